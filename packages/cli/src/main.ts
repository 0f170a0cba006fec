// The `tessera` command: `tessera launch` starts a multi-process job, `tessera preprocess` turns
// text into Megatron-compatible indexed datasets (from @tessera/datasets). Returns the exit code.
import { LAUNCH_USAGE, parseLaunchArgs, UsageError } from './launch/args.ts';
import { launch } from './launch/launcher.ts';
import { visibleGpuCount } from './launch/machine.ts';

const USAGE = `Usage: tessera <command> [options]

Commands:
  launch       start a multi-process job (tessera launch --help)
  preprocess   build an indexed dataset from text (tessera preprocess --help)`;

async function launchCommand(argv: string[]): Promise<number> {
  const parsed = parseLaunchArgs(argv, (cpu) => (cpu ? 1 : Math.max(1, visibleGpuCount())));
  if (parsed === 'help') {
    console.log(LAUNCH_USAGE);
    return 0;
  }
  return launch(parsed);
}

async function preprocessCommand(argv: string[]): Promise<number> {
  const datasets = (await import('@tessera/datasets')) as { preprocessMain?: (argv: string[]) => Promise<number> };
  if (typeof datasets.preprocessMain !== 'function') {
    console.error('tessera preprocess: not available yet (@tessera/datasets does not export preprocessMain)');
    return 1;
  }
  return datasets.preprocessMain(argv);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'launch':
        return await launchCommand(rest);
      case 'preprocess':
        return await preprocessCommand(rest);
      case '-h':
      case '--help':
      case 'help':
        console.log(USAGE);
        return 0;
      case undefined:
        console.error(USAGE);
        return 1;
      default:
        console.error(`tessera: unknown command '${command}'\n\n${USAGE}`);
        return 1;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`tessera ${command}: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

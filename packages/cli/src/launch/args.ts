// `tessera launch` arguments, with the flag names of `accelerate launch`. Flags come before the
// script; everything after the script goes to the script. As in accelerate, --num_processes counts
// the processes of all machines: each machine starts num_processes / num_machines of them.

export interface LaunchArgs {
  /** Processes on all machines together. */
  numProcesses: number;
  numMachines: number;
  machineRank: number;
  /** Address of machine 0, where rank 0 serves the rendezvous store. */
  mainProcessIp: string;
  /** undefined: pick a free port (single machine only). */
  mainProcessPort: number | undefined;
  cpu: boolean;
  script: string;
  scriptArgs: string[];
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const LAUNCH_USAGE = `Usage: tessera launch [options] script.ts [script args...]

Starts one process per rank on this machine, with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
MASTER_ADDR and MASTER_PORT set, and prefixes each output line with its rank.

Options:
  --num_processes N       processes on all machines together (default: this machine's GPUs, or 1)
  --num_machines M        machines in the job (default 1)
  --machine_rank R        this machine's index, 0..M-1 (default 0)
  --main_process_ip A     address of machine 0 (required with --num_machines > 1; default 127.0.0.1)
  --main_process_port P   port of the rendezvous store on machine 0 (default: a free port; 29500
                          with several machines)
  --cpu                   use the cpu backend, and share this machine's cores between the ranks
  -h, --help              show this help

Hyphens work too (--num-processes). With GPUs, local rank i uses cuda:i.`;

const VALUE_FLAGS = ['num_processes', 'num_machines', 'machine_rank', 'main_process_ip', 'main_process_port'] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

function positiveInt(flag: string, raw: string, min: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new UsageError(`--${flag} must be an integer >= ${min}, got '${raw}'`);
  return Number(raw);
}

/** `defaultProcesses`: what --num_processes means when not given (this machine's GPU count, or 1). */
export function parseLaunchArgs(argv: readonly string[], defaultProcesses: (cpu: boolean) => number): LaunchArgs | 'help' {
  const values: Partial<Record<ValueFlag, string>> = {};
  let cpu = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') return 'help';
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-')) break;
    const [rawName, inline] = arg.replace(/^--?/, '').split(/=(.*)/s, 2) as [string, string | undefined];
    const name = rawName.replaceAll('-', '_');
    if (name === 'cpu') {
      if (inline !== undefined) throw new UsageError('--cpu takes no value');
      cpu = true;
      continue;
    }
    if (!(VALUE_FLAGS as readonly string[]).includes(name)) {
      throw new UsageError(`unknown option '${arg}' (tessera launch --help lists the options)`);
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    if (values[name as ValueFlag] !== undefined) throw new UsageError(`--${name} is given twice`);
    values[name as ValueFlag] = value;
  }
  const script = argv[i];
  if (script === undefined) throw new UsageError('no script given: tessera launch [options] script.ts [args...]');

  const numMachines = values.num_machines === undefined ? 1 : positiveInt('num_machines', values.num_machines, 1);
  const machineRank = values.machine_rank === undefined ? 0 : positiveInt('machine_rank', values.machine_rank, 0);
  if (machineRank >= numMachines) throw new UsageError(`--machine_rank ${machineRank} must be below --num_machines ${numMachines}`);
  const numProcesses =
    values.num_processes === undefined ? defaultProcesses(cpu) * numMachines : positiveInt('num_processes', values.num_processes, 1);
  if (numProcesses % numMachines !== 0) {
    throw new UsageError(
      `--num_processes ${numProcesses} counts the processes of all ${numMachines} machines and must divide evenly between them`,
    );
  }
  if (numMachines > 1 && values.main_process_ip === undefined) {
    throw new UsageError('--main_process_ip is required with --num_machines > 1: the address of machine 0, which every machine can reach');
  }
  let mainProcessPort: number | undefined;
  if (values.main_process_port !== undefined) {
    mainProcessPort = positiveInt('main_process_port', values.main_process_port, 1);
    if (mainProcessPort > 65535) throw new UsageError(`--main_process_port must be a TCP port (1..65535), got ${mainProcessPort}`);
  } else if (numMachines > 1) {
    mainProcessPort = 29500;
  }
  return {
    numProcesses,
    numMachines,
    machineRank,
    mainProcessIp: values.main_process_ip ?? '127.0.0.1',
    mainProcessPort,
    cpu,
    script,
    scriptArgs: argv.slice(i + 1),
  };
}

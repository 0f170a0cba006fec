import { describe, expect, it } from 'vitest';
import { type LaunchArgs, parseLaunchArgs, UsageError } from './args.ts';

const parse = (argv: string[], gpus = 2) => parseLaunchArgs(argv, (cpu) => (cpu ? 1 : gpus));
const processes = (argv: string[], gpus: number) => (parse(argv, gpus) as LaunchArgs).numProcesses;

function usageError(argv: string[]): string {
  try {
    parse(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('no error');
}

describe('tessera launch arguments', () => {
  it('reads accelerate-style flags and leaves the script its own', () => {
    expect(parse(['--num_processes', '4', '--cpu', 'train.ts', '--lr', '1e-3', '--cpu'])).toEqual({
      numProcesses: 4, numMachines: 1, machineRank: 0, mainProcessIp: '127.0.0.1', mainProcessPort: undefined, cpu: true,
      script: 'train.ts', scriptArgs: ['--lr', '1e-3', '--cpu'],
    });
  });

  it('accepts --flag=value and hyphens', () => {
    expect(parse(['--num-processes=3', '--main_process_port=1234', 's.ts'])).toMatchObject({ numProcesses: 3, mainProcessPort: 1234 });
  });

  it('defaults to one process per GPU, or one with --cpu', () => {
    expect(processes(['s.ts'], 8)).toBe(8);
    expect(processes(['--cpu', 's.ts'], 8)).toBe(1);
  });

  it('counts processes over all machines, as accelerate does', () => {
    expect(parse(['--num_machines', '2', '--machine_rank', '1', '--main_process_ip', '10.0.0.1', '--num_processes', '8', 's.ts'])).toMatchObject({
      numProcesses: 8, numMachines: 2, machineRank: 1, mainProcessIp: '10.0.0.1', mainProcessPort: 29500,
    });
  });

  it('explains bad flags', () => {
    expect(usageError(['--num_procs', '2', 's.ts'])).toBe("unknown option '--num_procs' (tessera launch --help lists the options)");
    expect(usageError(['--num_processes', 'two', 's.ts'])).toBe("--num_processes must be an integer >= 1, got 'two'");
    expect(usageError(['--num_processes', '0', 's.ts'])).toBe("--num_processes must be an integer >= 1, got '0'");
    expect(usageError(['--num_processes'])).toBe('--num_processes needs a value');
    expect(usageError(['--num_processes', '2'])).toMatch(/^no script given/);
    expect(usageError(['--machine_rank', '1', 's.ts'])).toBe('--machine_rank 1 must be below --num_machines 1');
    expect(usageError(['--num_machines', '2', 's.ts'])).toMatch(/^--main_process_ip is required/);
    expect(usageError(['--num_machines', '2', '--main_process_ip', 'h', '--num_processes', '3', 's.ts'])).toMatch(/must divide evenly/);
    expect(usageError(['--main_process_port', '99999', 's.ts'])).toBe('--main_process_port must be a TCP port (1..65535), got 99999');
    expect(usageError(['--cpu=yes', 's.ts'])).toBe('--cpu takes no value');
    expect(usageError(['--num_processes', '2', '--num_processes', '3', 's.ts'])).toBe('--num_processes is given twice');
  });

  it('answers --help', () => {
    expect(parse(['--help'])).toBe('help');
  });
});

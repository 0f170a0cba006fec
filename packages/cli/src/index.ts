// @tessera/cli as a library: the launcher behind `tessera launch`, for programs that start jobs.
export { LAUNCH_USAGE, type LaunchArgs, parseLaunchArgs, UsageError } from './launch/args.ts';
export { launch, type LaunchIO } from './launch/launcher.ts';
export { main } from './main.ts';

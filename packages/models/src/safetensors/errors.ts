// Errors for unreadable or unusable safetensors files: each message names the file, the fault and,
// where there is one, the fix.
export class SafetensorsError extends Error {
  readonly file: string;
  readonly fault: string;
  constructor(file: string, fault: string, fix?: string) {
    super(`${file}: ${fault}${fix ? `. ${fix}` : ''}`);
    this.name = 'SafetensorsError';
    this.file = file;
    this.fault = fault;
  }
}

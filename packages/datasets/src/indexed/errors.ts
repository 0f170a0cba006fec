// Errors for unreadable dataset files: every message names the file, what is wrong with it and,
// where there is one, what to do about it.
export class DatasetFileError extends Error {
  readonly file: string;
  readonly fault: string;
  constructor(file: string, fault: string, fix?: string) {
    super(`${file}: ${fault}${fix ? `. ${fix}` : ''}`);
    this.name = 'DatasetFileError';
    this.file = file;
    this.fault = fault;
  }
}

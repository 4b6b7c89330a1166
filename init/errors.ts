/**
 * Exit codes of modelgate-init (documented in docs/init.md, "Exit codes"):
 * 0 done, 1 failed at run time, 2 usage or configuration, 3 a lock was not acquired in time.
 */
export const ExitCode = { ok: 0, failed: 1, usage: 2, lockTimeout: 3 } as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the run with a given exit code and a message saying what happened and what to do. */
export class InitError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.failed,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'InitError';
  }
}

export class UsageError extends InitError {
  constructor(message: string) {
    super(message, ExitCode.usage);
    this.name = 'UsageError';
  }
}

export class LockTimeoutError extends InitError {
  constructor(message: string) {
    super(message, ExitCode.lockTimeout);
    this.name = 'LockTimeoutError';
  }
}

export function exitCodeOf(error: unknown): ExitCodeValue {
  return error instanceof InitError ? error.exitCode : ExitCode.failed;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import { COMMANDS, parseArgs } from '../../../init/cli';
import { UsageError } from '../../../init/errors';

describe('modelgate-init arguments', () => {
  it.each(COMMANDS)("%s --help prints that command's usage and the exit codes", (command) => {
    const parsed = parseArgs([command, '--help']);
    expect(parsed.kind).toBe('help');
    if (parsed.kind !== 'help') return;
    expect(parsed.text).toMatch(new RegExp(`^Usage: modelgate-init ${command}`));
    expect(parsed.text).toMatch(/3 +a lock was not acquired in time/);
  });

  it('accepts --migrations-dir for migrate and all only', () => {
    expect(parseArgs(['migrate', '--migrations-dir', '/x'])).toEqual({
      kind: 'run',
      invocation: { command: 'migrate', migrationsDir: '/x' },
    });
    expect(parseArgs(['all', '--migrations-dir=/y'])).toMatchObject({ invocation: { migrationsDir: '/y' } });
    expect(() => parseArgs(['models', '--migrations-dir', '/x'])).toThrow(
      /unknown option "--migrations-dir" for models/,
    );
  });

  it.each([
    [[], /a command is required/],
    [['migrat'], /unknown command "migrat"/],
    [['migrate', '--force'], /unknown option "--force"/],
    [['migrate', '--migrations-dir'], /needs a directory/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

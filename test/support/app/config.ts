import { loadConfig, type AppConfig } from '../../../core/config';

/** The app's config for an in-process test: loopback, a port the kernel picks, silent, no shutdown delay. */
export function appConfig(env: Record<string, string>): Readonly<AppConfig> {
  return loadConfig('app', {
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'silent',
    SHUTDOWN_DELAY: '0',
    ...env,
  });
}

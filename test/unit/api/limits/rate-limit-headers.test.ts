import fc from 'fast-check';
import { formatReset, RESET_PATTERN } from '../../../../app/api/limits/rate-limit-headers';

describe('x-ratelimit-reset-*', () => {
  it('is written as OpenAI writes durations, and always as the OpenAPI document describes it', () => {
    expect([20, 1_000, 1_500, 360_000, 3_723_000].map(formatReset)).toEqual([
      '20ms',
      '1s',
      '1.5s',
      '6m0s',
      '1h2m3s',
    ]);
    const documented = new RegExp(RESET_PATTERN);
    fc.assert(
      fc.property(fc.integer({ min: -1, max: 40 * 24 * 3_600_000 }), (ms) =>
        documented.test(formatReset(ms)),
      ),
    );
  });
});

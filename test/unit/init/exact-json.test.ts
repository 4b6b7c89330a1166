import fc from 'fast-check';
import { parseExactJson, quoteUnsafeIntegers } from '../../../init/models/exact-json';

describe('exact JSON parsing', () => {
  it('turns integers above 2^53 into exact decimal strings and leaves the rest alone', () => {
    expect(parseExactJson('{"a":9007199254740993,"b":12,"c":1.5e300,"d":-18446744073709551617}')).toEqual({
      a: '9007199254740993',
      b: 12,
      c: 1.5e300,
      d: '-18446744073709551617',
    });
  });

  it('never touches digits inside strings, including escaped quotes', () => {
    const text = '{"Name":"x\\"99999999999999999999\\"","n":"123456789012345678901234567890"}';
    expect(quoteUnsafeIntegers(text)).toBe(text);
  });

  it('keeps any big integer exact, wherever it appears', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 40n }), fc.string(), (stake, name) => {
        const text = `{"models":[{"Name":${JSON.stringify(name)},"Stake":${stake.toString()}}]}`;
        const parsed = parseExactJson(text) as { models: { Name: string; Stake: unknown }[] };
        expect(parsed.models[0]!.Name).toBe(name);
        expect(BigInt(parsed.models[0]!.Stake as string | number)).toBe(stake);
      }),
    );
  });
});

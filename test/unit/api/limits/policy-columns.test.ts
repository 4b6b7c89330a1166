import { byColumn, effectivePolicy } from '../../../../app/api/limits/policy';

describe('byColumn: a policy as the API and the tables name its fields', () => {
  it('names the four policy fields by column, in order, and drops everything else', () => {
    const effective = effectivePolicy(
      { keyId: 'k', userId: 'u' },
      { allowedModels: ['gpt-*'], requestsPerMinute: 60, tokensPerMinute: null, monthlyTokenBudget: null },
      { allowedModels: null, requestsPerMinute: null, tokensPerMinute: 1_000, monthlyTokenBudget: null },
    );
    const named = byColumn(effective);
    expect(Object.entries(named)).toEqual([
      ['allowed_models', ['gpt-*']],
      ['requests_per_minute', 60],
      ['tokens_per_minute', 1_000],
      ['monthly_token_budget', null],
    ]);
    expect(byColumn(effective.sources)).toEqual({
      allowed_models: 'user',
      requests_per_minute: 'user',
      tokens_per_minute: 'key',
      monthly_token_budget: 'none',
    });
  });
});

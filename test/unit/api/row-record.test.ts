import { recordOf } from '../../../app/api/row-record';

describe('recordOf: a row as the record the stores hand out', () => {
  it('names every column as a field, in the row order, and leaves the values alone', () => {
    const created = new Date('2026-01-01T00:00:00Z');
    const row = { id: 'k1', user_id: 'u1', is_active: true, last_used_at: null, created_at: created };
    const record = recordOf(row);
    expect(Object.entries(record)).toEqual([
      ['id', 'k1'],
      ['userId', 'u1'],
      ['isActive', true],
      ['lastUsedAt', null],
      ['createdAt', created],
    ]);
    expect(record.createdAt).toBe(created);
  });
});

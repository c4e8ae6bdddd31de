import { describe, expect, it } from 'vitest';
import { failedForEach, fromBulkAnswers } from './bulk';
import { bearer, fromFragment } from './credential';
import { ActError, describeError } from './errors';
import { pickLanguage, translator } from './i18n';
import { coalesce, followed } from './liveRooms';
import { parseAttributes } from './ParticipantDetails';
import { visibleRows } from './virtual';

describe('visibleRows', () => {
  it('renders the rows in view and a few either side, never past the ends', () => {
    expect(visibleRows(300, 64, 0, 640, 5)).toEqual({ first: 0, last: 15, offset: 0, height: 19200 });
    const middle = visibleRows(300, 64, 6400, 640, 5);
    expect(middle.first).toBe(95);
    expect(middle.last).toBe(115);
    expect(middle.offset).toBe(95 * 64);
    expect(visibleRows(300, 64, 999999, 640, 5).last).toBe(300);
    expect(visibleRows(0, 64, 0, 640)).toEqual({ first: 0, last: 0, offset: 0, height: 0 });
  });
  it('stays small for a long list', () => {
    const view = visibleRows(10000, 64, 320000, 800);
    expect(view.last - view.first).toBeLessThan(30);
  });
});

describe('bulk answers', () => {
  it('gives one result per identity, in order, each failure said in the user language', () => {
    const results = fromBulkAnswers([
      { identity: 'a', ok: true, error: null },
      { identity: 'c', ok: false, error: { code: 'NOT_FOUND', reason: 'participant not found', message: 'no participant c' } },
    ]);
    expect(results.map((r) => [r.identity, r.ok])).toEqual([['a', true], ['c', false]]);
    const failed = results[1];
    expect(failed.ok).toBe(false);
    if (!failed.ok) expect(describeError(failed.error, translator('en'))).toContain('no participant c');
  });
  it('turns a failed call into a failure for each identity', () => {
    const error = new ActError('FORBIDDEN', 'you do not moderate room x');
    expect(failedForEach(['a', 'b'], error)).toEqual([
      { identity: 'a', ok: false, error },
      { identity: 'b', ok: false, error },
    ]);
  });
});

describe('language and messages', () => {
  it('follows the browser: any zh is zh-CN, any en is en, else English', () => {
    expect(pickLanguage(['zh-TW', 'en'])).toBe('zh-CN');
    expect(pickLanguage(['fr', 'en-GB'])).toBe('en');
    expect(pickLanguage(['fr'])).toBe('en');
  });
  it('says an error in the user language, with the service message', () => {
    const zh = translator('zh-CN');
    expect(describeError(new ActError('FORBIDDEN', 'you do not moderate room x'), zh)).toBe('您无权执行此操作 (you do not moderate room x)');
    expect(describeError(new ActError('SOMETHING_NEW', ''), translator('en'))).toBe('unexpected error');
    expect(translator('en')('failed', { act: 'kick a', error: 'not found' })).toBe('kick a failed: not found');
  });
});

describe('credential', () => {
  it('takes a credential from an identity provider redirect fragment', () => {
    expect(fromFragment('#access_token=abc&token_type=bearer')).toBe('abc');
    expect(fromFragment('#credential=k1')).toBe('k1');
    expect(fromFragment('')).toBeNull();
  });
  it('sends a pasted "Bearer x" as x', () => {
    expect(bearer('  Bearer xyz ')).toBe('Bearer xyz');
    expect(bearer('xyz')).toBe('Bearer xyz');
  });
});

describe('attributes', () => {
  it('accepts a JSON object of strings only', () => {
    expect(parseAttributes('{"a": "1", "b": ""}')).toEqual({ a: '1', b: '' });
    expect(parseAttributes('')).toEqual({});
    expect(() => parseAttributes('[1]')).toThrow(ActError);
    expect(() => parseAttributes('{"a": 1}')).toThrow(ActError);
    expect(() => parseAttributes('{')).toThrow(ActError);
  });
});

describe('room list', () => {
  it('follows every room for a reader of every room, else its rooms up to the limit', () => {
    expect(followed(null, 8)).toEqual([null]);
    expect(followed(['a', 'b', 'c'], 2)).toEqual(['a', 'b']);
  });
  it('coalesces a burst of events into one refresh', async () => {
    let runs = 0;
    const refresh = coalesce(() => runs++, 10);
    for (let i = 0; i < 50; i++) refresh.poke();
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(runs).toBe(1);
    refresh.poke();
    refresh.cancel();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(runs).toBe(1);
  });
});

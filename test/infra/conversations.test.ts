/**
 * Conversation storage in the stack: the `conversationTtlHours` context key reaches the function as
 * ORMCP_CONVERSATION_TTL_HOURS (default 168, `0` turns storage off), and a value out of the app's bounds is refused.
 */
import { App } from 'aws-cdk-lib';
import { readConfig } from '../../infra/config.js';
import { onlyResource, synth } from './support/synth.js';

function env(context: Record<string, unknown>): Record<string, unknown> {
  return onlyResource(synth(context).json, 'AWS::Lambda::Function')[1].Properties.Environment.Variables;
}

test('the function keeps conversations 168 hours by default, or what conversationTtlHours says (0 = off)', () => {
  expect(readConfig(new App().node).conversationTtlHours).toBe(168);
  expect(env({})).toMatchObject({ ORMCP_CONVERSATION_TTL_HOURS: '168' });
  expect(env({ conversationTtlHours: '0' })).toMatchObject({ ORMCP_CONVERSATION_TTL_HOURS: '0' });
});

test.each([[-1], [8761], ['a week']])('conversationTtlHours %j is refused', (value) => {
  expect(() => readConfig(new App({ context: { conversationTtlHours: value } }).node)).toThrow(/conversationTtlHours/);
});

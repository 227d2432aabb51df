/** The stores' one refusal type: a caller maps its code to a message or status once. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: 'user_exists' | 'no_such_user' | 'no_such_token' | 'invalid_input',
    message: string,
  ) {
    super(message);
  }
}

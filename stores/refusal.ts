// A store's refusal of a write that would break one of its limits or rules (the API answers 422 with the code);
// nothing was written.
export class StoreRefusal extends Error {
  constructor(readonly code: string, message: string, readonly param?: string) {
    super(message);
    this.name = 'StoreRefusal';
  }
}

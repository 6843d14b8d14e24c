/** One value per direction, in two fields: per exchange, a Map cost more to make than its whole use. */
export class PerDirection<T> {
  constructor(
    public request: T,
    public response: T,
  ) {}
}

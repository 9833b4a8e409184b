/**
 * Every value of a header as the client sent it, from Node's rawHeaders (name, value, name,
 * value, …): Node joins repeated headers into one, which would hide a second Authorization
 * or DPoP header that the protocol says must be refused.
 */
export function headerValues(rawHeaders: string[], name: string): string[] {
  const values: string[] = [];
  for (let index = 0; index < rawHeaders.length; index += 2) if (rawHeaders[index]!.toLowerCase() === name) values.push(rawHeaders[index + 1]!);
  return values;
}

/** Response bodies in tests are asserted field by field; any keeps those assertions short. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** One request; the body parsed as JSON, or the text when it is not JSON. */
export async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: Json;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

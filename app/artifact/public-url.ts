/**
 * The model source URL as shown in /status and metric labels: without user, password, query or fragment, where
 * tokens tend to hide.
 */
export function publicSourceUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.toString();
  } catch {
    return 'unparsable URL';
  }
}

// @ts-check
// autocannon runs that can be stopped early, with their result as a promise.
import autocannon from 'autocannon';

/**
 * @param {autocannon.Options} options
 * @returns {{ instance: autocannon.Instance, done: Promise<autocannon.Result> }}
 */
export function startLoad(options) {
  /** @type {(result: autocannon.Result) => void} */
  let resolve = () => {};
  /** @type {(error: Error) => void} */
  let reject = () => {};
  const done = /** @type {Promise<autocannon.Result>} */ (
    new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    })
  );
  const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  return { instance, done };
}

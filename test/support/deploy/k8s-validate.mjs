// @ts-check
// Validates Kubernetes objects against the Kubernetes OpenAPI schemas (kubernetes-models' compiled validators, and
// @kubernetes-models/prometheus-operator for ServiceMonitor/PrometheusRule) AND reports unknown fields, which those
// validators accept silently (the API server would reject them with fieldValidation=Strict, or drop them).
//
// Runs as its own process because the packages are ESM-only with `import`-only exports, which jest's CommonJS
// runtime cannot resolve. Input on stdin: a JSON array of objects. Output on stdout: a JSON array, one entry per
// object: { ref, errors: string[] }.
//
// How unknown fields are found: the compiled validator reads every property its schema declares (`data.x !== void 0`)
// whether or not it is set, and enumerates the keys of free-form maps (labels, annotations, resources.limits). So the
// object is wrapped in proxies that record which keys the validator read and whether it enumerated them; a key of a
// typed object (one with recorded reads, not enumerated) that was never read is unknown to the schema. Objects the
// validator never looks into (schemas without properties, e.g. x-kubernetes-preserve-unknown-fields) are not judged.

/**
 * apiVersion/kind -> module path of the model class.
 * @param {string} apiVersion
 * @param {string} kind
 */
function modulePath(apiVersion, kind) {
  if (apiVersion.startsWith('monitoring.coreos.com/')) {
    return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  }
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** @param {string} path @param {unknown} value @param {Array<{path: string, value: object, read: Set<string>, enumerated: boolean}>} records */
function track(path, value, records) {
  if (value === null || typeof value !== 'object') return value;
  const record = { path, value, read: new Set(), enumerated: false };
  records.push(record);
  const children = new Map();
  return new Proxy(value, {
    get(target, key, receiver) {
      const child = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return child;
      record.read.add(key);
      if (child === null || typeof child !== 'object' || !Object.hasOwn(target, key)) return child;
      if (!children.has(key)) children.set(key, track(`${path}/${key}`, child, records));
      return children.get(key);
    },
    has(target, key) {
      if (typeof key === 'string') record.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      record.enumerated = true;
      return Reflect.ownKeys(target);
    },
  });
}

/** @param {any} object */
async function validate(object) {
  const ref = `${object?.kind ?? '?'}/${object?.metadata?.name ?? '?'}`;
  if (!object || typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') {
    return { ref, errors: ['not a Kubernetes object: apiVersion and kind are required'] };
  }
  let Model;
  try {
    const mod = await import(modulePath(object.apiVersion, object.kind));
    Model = mod[object.kind];
  } catch {
    Model = undefined;
  }
  if (typeof Model !== 'function') {
    return { ref, errors: [`no schema for ${object.apiVersion} ${object.kind} (unknown or removed API)`] };
  }
  const errors = [];
  /** @type {Array<{path: string, value: object, read: Set<string>, enumerated: boolean}>} */
  const records = [];
  const copy = structuredClone(object);
  // Secret data is base64 ("byte"): the API server decodes it with Go's base64, which skips line breaks, and
  // kustomize wraps long values; the schema's format regex does not, so unwrap as the server would.
  if (copy.kind === 'Secret' && copy.data && typeof copy.data === 'object') {
    for (const key of Object.keys(copy.data)) {
      if (typeof copy.data[key] === 'string') copy.data[key] = copy.data[key].replace(/[\r\n]/g, '');
    }
  }
  const proxy = track('', copy, records);
  try {
    // The class's validate() runs the compiled schema validator on `this`; `this` is the recording proxy.
    Model.prototype.validate.call(proxy);
  } catch (error) {
    errors.push(`schema: ${/** @type {Error} */ (error).message}`);
  }
  for (const { path, value, read, enumerated } of records) {
    if (Array.isArray(value) || enumerated || read.size === 0) continue;
    for (const key of Object.keys(value)) {
      if (!read.has(key)) errors.push(`unknown field ${path}/${key}`);
    }
  }
  return { ref, errors };
}

let input = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) input += chunk;
const objects = JSON.parse(input);
const results = [];
for (const object of objects) results.push(await validate(object));
process.stdout.write(JSON.stringify(results));

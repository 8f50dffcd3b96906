// Validates Strimzi objects with the validators of
// @kubernetes-models/strimzi-kafka-operator, compiled from the Strimzi 1.0.0
// CRDs (types, required fields, enums, minimum and maximum). Those validators
// ignore unknown fields, where an API server rejects them (kubectl's strict
// field validation): every object is wrapped in a Proxy that records which
// properties the validator reads, and a property of an object the validator
// walked but never read is reported as unknown. Objects the validator does
// not walk (x-kubernetes-preserve-unknown-fields, such as spec.config) or
// whose keys it enumerates (maps, such as labels) keep any key.
//
// stdin: a JSON array of objects. stdout: a JSON array of the same length,
// each element {"problems": [{"field": "spec.partitions", "message": "..."}]}.
// Exit status 0 unless the input cannot be read.
import { KafkaTopic } from "@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1/KafkaTopic";
import { KafkaUser } from "@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1/KafkaUser";

const models = {
  "kafka.strimzi.io/v1/KafkaTopic": KafkaTopic,
  "kafka.strimzi.io/v1/KafkaUser": KafkaUser,
};

function join(path, key) {
  return path === "" ? key : `${path}.${key}`;
}

// watch returns a copy of v whose objects record the reads made on them.
function watch(v, path, seen) {
  if (Array.isArray(v)) {
    return v.map((x, i) => watch(x, `${path}[${i}]`, seen));
  }
  if (v === null || typeof v !== "object") {
    return v;
  }
  const rec = { path, keys: Object.keys(v), read: new Set(), enumerated: false };
  seen.push(rec);
  const inner = {};
  for (const [k, x] of Object.entries(v)) {
    inner[k] = watch(x, join(path, k), seen);
  }
  return new Proxy(inner, {
    get(t, k, r) {
      if (typeof k === "string") rec.read.add(k);
      return Reflect.get(t, k, r);
    },
    has(t, k) {
      if (typeof k === "string") rec.read.add(k);
      return Reflect.has(t, k);
    },
    ownKeys(t) {
      rec.enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

// fieldOf turns an AJV instancePath (/spec/acls/0/operations) into the
// API server's notation (spec.acls[0].operations).
function fieldOf(obj, instancePath) {
  let field = "";
  let cur = obj;
  for (const raw of instancePath.split("/").slice(1)) {
    const seg = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(cur)) {
      field += `[${seg}]`;
    } else {
      field = join(field, seg);
    }
    cur = cur == null ? undefined : cur[seg];
  }
  return field;
}

function valueAt(obj, instancePath) {
  let cur = obj;
  for (const raw of instancePath.split("/").slice(1)) {
    cur = cur == null ? undefined : cur[raw.replaceAll("~1", "/").replaceAll("~0", "~")];
  }
  return cur;
}

function problemOf(obj, e) {
  const field = fieldOf(obj, e.instancePath);
  const value = JSON.stringify(valueAt(obj, e.instancePath));
  switch (e.keyword) {
    case "required":
      return { field: join(field, e.params.missingProperty), message: "Required value" };
    case "type":
      return { field, message: `Invalid value: ${value}: must be of type ${e.params.type}` };
    case "enum":
      return {
        field,
        message: `Unsupported value: ${value}: supported values: ${e.params.allowedValues.map((x) => JSON.stringify(x)).join(", ")}`,
      };
    case "minimum":
      return { field, message: `Invalid value: ${value}: should be greater than or equal to ${e.params.limit}` };
    case "maximum":
      return { field, message: `Invalid value: ${value}: should be less than or equal to ${e.params.limit}` };
    default:
      return { field, message: `Invalid value: ${value}: ${e.message}` };
  }
}

function check(obj) {
  const model = models[`${obj?.apiVersion}/${obj?.kind}`];
  if (!model) {
    return [{ field: "apiVersion", message: `no validator for ${obj?.apiVersion} ${obj?.kind}` }];
  }
  const seen = [];
  const watched = watch(obj, "", seen);
  const problems = [];
  try {
    model.prototype.validate.call(watched);
  } catch (err) {
    if (!Array.isArray(err?.errors)) throw err;
    for (const e of err.errors) problems.push(problemOf(obj, e));
  }
  for (const rec of seen) {
    if (rec.enumerated || rec.read.size === 0) continue;
    for (const k of rec.keys) {
      if (!rec.read.has(k)) problems.push({ field: join(rec.path, k), message: "unknown field" });
    }
  }
  return problems;
}

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const objects = JSON.parse(input);
process.stdout.write(JSON.stringify(objects.map((o) => ({ problems: check(o) }))));

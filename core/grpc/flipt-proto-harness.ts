/**
 * Loading Flipt's own `rpc/flipt/auth/auth.proto` (never in this repository: a path the tester gives) with
 * @grpc/proto-loader, and comparing the shape of what travels on the wire — services, methods, messages, fields,
 * enum values — with ours (`core/grpc/proto/flipt/auth/auth.proto`). Used by `flipt-proto.test.ts`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { tempDirForSuite } from '../test-support/tmp.ts';
import { PROTO_OPTIONS } from './messages.ts';

/**
 * The end of the string literal or comment starting at `index` (the index after it), or `index` when none starts
 * there.
 */
function endOfLiteral(text: string, index: number): number {
  const start = text.slice(index, index + 2);
  if (start === '//') {
    const end = text.indexOf('\n', index);
    return end === -1 ? text.length : end;
  }
  if (start === '/*') {
    const end = text.indexOf('*/', index + 2);
    return end === -1 ? text.length : end + 2;
  }
  const quote = text[index];
  if (quote !== '"' && quote !== "'") return index;
  let at = index + 1;
  while (at < text.length && text[at] !== quote) at += text[at] === '\\' ? 2 : 1;
  return at + 1;
}

/**
 * `text` without its custom options (`option (google.api.http) = {...};`, `option (gnostic.openapi.v3.document) =
 * {...};`): protobufjs, under proto-loader, cannot parse a list of messages in an option's value, which Flipt's
 * OpenAPI annotations use (`additional_properties: [{...}, {...}]`). Custom options are descriptor annotations for
 * protoc plugins (the HTTP gateway, the OpenAPI document); none of them changes a message, a field or a method on
 * the wire. Options without parentheses (`deprecated`) stay.
 */
export function withoutCustomOptions(text: string): string {
  let kept = '';
  let index = 0;
  while (index < text.length) {
    const literalEnd = endOfLiteral(text, index);
    if (literalEnd > index) {
      kept += text.slice(index, literalEnd);
      index = literalEnd;
      continue;
    }
    const option = /option\s*\(/y;
    option.lastIndex = index;
    if (option.test(text) && !/[\w.]/.test(text[index - 1] ?? '')) {
      let at = index;
      let depth = 0;
      while (at < text.length && !(text[at] === ';' && depth === 0)) {
        const end = endOfLiteral(text, at);
        if (end > at) {
          at = end;
          continue;
        }
        if (text[at] === '{' || text[at] === '[') depth++;
        else if (text[at] === '}' || text[at] === ']') depth--;
        at++;
      }
      index = at + 1;
      continue;
    }
    kept += text[index];
    index++;
  }
  return kept;
}

/** The files `text` imports, as written. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm)].map(
    (match) => match[1] as string,
  );
}

/** Flipt's proto, ready to load: a copy without its custom options, and stand-ins for what only they imported. */
export interface FliptProto {
  /** The copy of Flipt's file (written under {@link includeDir}, at Flipt's own path). */
  readonly file: string;
  readonly includeDir: string;
  /** The imports given a stand-in (empty files of ours: they only served the options removed). */
  readonly standIns: readonly string[];
}

/**
 * Writes, into a temporary folder of this test run, a copy of Flipt's `auth.proto` at `path` without its custom
 * options, and a stand-in for each import outside `google/protobuf/` (protobufjs has those built in): the
 * annotation files (`google/api/annotations.proto`, `gnostic/openapi/v3/annotations.proto`,
 * `protoc-gen-openapiv2/options/annotations.proto`), which only the options used.
 */
export function prepareFliptProto(path: string): FliptProto {
  const text = readFileSync(path, 'utf8');
  const includeDir = tempDirForSuite();
  const standIns = importsOf(text).filter((name) => !name.startsWith('google/protobuf/'));
  for (const name of standIns) {
    mkdirSync(dirname(join(includeDir, name)), { recursive: true });
    writeFileSync(
      join(includeDir, name),
      `// A stand-in written by portcullis's flipt-proto test for an import of Flipt's auth.proto: only its custom\n// options used ${name}, and they are left out of the copy loaded (they do not travel on the wire).\nsyntax = "proto3";\n`,
    );
  }
  const file = join(includeDir, 'flipt/auth/auth.proto');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, withoutCustomOptions(text));
  return { file, includeDir, standIns };
}

/** The package definition clients are built from (the options our server uses: camelCase, enums by name). */
export function clientDefinition(proto: FliptProto): protoLoader.PackageDefinition {
  return protoLoader.loadSync(proto.file, { ...PROTO_OPTIONS, includeDirs: [proto.includeDir] });
}

// ---- The shape on the wire ----

/** A field as the wire sees it: number, type (a scalar, a message or enum's full name, or `map<K, V>`), label. */
export interface FieldShape {
  readonly name: string;
  readonly number: number;
  readonly type: string;
  /** `repeated`, `optional` (proto3 explicit presence), `oneof <name>`, or `` (singular). */
  readonly label: string;
}

export interface MethodShape {
  readonly input: string;
  readonly output: string;
  readonly clientStreaming: boolean;
  readonly serverStreaming: boolean;
}

export interface ProtoShape {
  /** Service full name → method name → its shape. */
  readonly services: ReadonlyMap<string, ReadonlyMap<string, MethodShape>>;
  /** Message full name → its fields by number. */
  readonly messages: ReadonlyMap<string, ReadonlyMap<number, FieldShape>>;
  /** Enum full name → value name → number. */
  readonly enums: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

/** `google.protobuf.FileDescriptorProto` and its parts, as proto-loader decodes them (unset fields absent). */
interface FieldDescriptor {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName?: string;
  oneofIndex?: number;
}
interface MessageDescriptor {
  name: string;
  field?: FieldDescriptor[];
  nestedType?: MessageDescriptor[];
  enumType?: EnumDescriptor[];
  oneofDecl?: Array<{ name: string }>;
  options?: { mapEntry?: boolean };
}
interface EnumDescriptor {
  name: string;
  value?: Array<{ name: string; number: number }>;
}
interface FileDescriptor {
  name: string;
  package?: string;
  messageType?: MessageDescriptor[];
  enumType?: EnumDescriptor[];
  service?: Array<{
    name: string;
    method?: Array<{
      name: string;
      inputType: string;
      outputType: string;
      clientStreaming?: boolean;
      serverStreaming?: boolean;
    }>;
  }>;
}

let fileDescriptorType: protoLoader.MessageTypeDefinition<object, object> | undefined;

/** The files (as descriptors) behind a package definition: each of its types carries them all. */
function filesOf(definition: protoLoader.PackageDefinition): FileDescriptor[] {
  fileDescriptorType ??= protoLoader.loadSync('google/protobuf/descriptor.proto', {
    enums: String,
    longs: String,
  })['google.protobuf.FileDescriptorProto'] as protoLoader.MessageTypeDefinition<object, object>;
  const decode = fileDescriptorType;
  const files = new Map<string, FileDescriptor>();
  for (const entry of Object.values(definition)) {
    // A message or an enum (a service has none: its methods are its keys).
    const protos = (entry as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
    if (!Array.isArray(protos)) continue;
    for (const bytes of protos as Buffer[]) {
      const file = decode.deserialize(bytes) as FileDescriptor;
      files.set(file.name, file);
    }
  }
  return [...files.values()];
}

const SCALARS: Record<string, string> = {
  TYPE_DOUBLE: 'double',
  TYPE_FLOAT: 'float',
  TYPE_INT64: 'int64',
  TYPE_UINT64: 'uint64',
  TYPE_INT32: 'int32',
  TYPE_FIXED64: 'fixed64',
  TYPE_FIXED32: 'fixed32',
  TYPE_BOOL: 'bool',
  TYPE_STRING: 'string',
  TYPE_BYTES: 'bytes',
  TYPE_UINT32: 'uint32',
  TYPE_SFIXED32: 'sfixed32',
  TYPE_SFIXED64: 'sfixed64',
  TYPE_SINT32: 'sint32',
  TYPE_SINT64: 'sint64',
};

function labelOf(field: FieldDescriptor, type: string, oneof: string | undefined): string {
  if (type.startsWith('map<')) return '';
  if (field.label === 'LABEL_REPEATED') return 'repeated';
  // proto3 `optional`: protobufjs declares it as a oneof of its own, named `_<field>`.
  if (oneof === `_${field.name}`) return 'optional';
  return oneof === undefined ? '' : `oneof ${oneof}`;
}

/**
 * The shape of `file` and what it imports, loaded with @grpc/proto-loader (field names as written: snake_case).
 * protobufjs writes type references as the source does (`Method`, `google.protobuf.Timestamp`); they are resolved
 * here as protoc resolves them, from the innermost scope outwards.
 */
export function protoShape(file: string, includeDirs: readonly string[] = []): ProtoShape {
  const definition = protoLoader.loadSync(file, {
    keepCase: true,
    enums: String,
    longs: String,
    includeDirs: [...includeDirs],
  });
  const declared = new Map<
    string,
    { message: MessageDescriptor; scope: string } | { enum: EnumDescriptor }
  >();
  const declare = (scope: string, messages: MessageDescriptor[] = [], enums: EnumDescriptor[] = []) => {
    for (const enumType of enums) declared.set(`${scope}${enumType.name}`, { enum: enumType });
    for (const message of messages) {
      const name = `${scope}${message.name}`;
      declared.set(name, { message, scope: name });
      declare(`${name}.`, message.nestedType, message.enumType);
    }
  };
  const files = filesOf(definition);
  for (const descriptor of files) {
    declare(descriptor.package ? `${descriptor.package}.` : '', descriptor.messageType, descriptor.enumType);
  }

  const resolve = (scope: string, reference: string): string => {
    if (reference.startsWith('.')) return reference.slice(1);
    const parts = scope.split('.');
    for (let length = parts.length; length >= 0; length--) {
      const candidate = [...parts.slice(0, length), reference].join('.');
      if (declared.has(candidate)) return candidate;
    }
    return `unresolved ${reference}`;
  };
  const typeOf = (scope: string, field: FieldDescriptor): string => {
    const scalar = SCALARS[field.type];
    if (scalar !== undefined) return scalar;
    const name = resolve(scope, field.typeName ?? '');
    const found = declared.get(name);
    if (found !== undefined && 'message' in found && found.message.options?.mapEntry === true) {
      const [key, value] = [1, 2].map((number) => {
        const part = found.message.field?.find((entry) => entry.number === number);
        return part === undefined ? '?' : typeOf(found.scope, part);
      });
      return `map<${key}, ${value}>`;
    }
    return name;
  };

  const messages = new Map<string, Map<number, FieldShape>>();
  const enums = new Map<string, Map<string, number>>();
  for (const [name, found] of declared) {
    if ('enum' in found) {
      enums.set(name, new Map((found.enum.value ?? []).map((value) => [value.name, value.number])));
      continue;
    }
    if (found.message.options?.mapEntry === true) continue;
    const { message } = found;
    const fields = new Map<number, FieldShape>();
    for (const field of message.field ?? []) {
      const type = typeOf(name, field);
      const oneof = field.oneofIndex === undefined ? undefined : message.oneofDecl?.[field.oneofIndex]?.name;
      fields.set(field.number, {
        name: field.name,
        number: field.number,
        type,
        label: labelOf(field, type, oneof),
      });
    }
    messages.set(name, fields);
  }

  const services = new Map<string, Map<string, MethodShape>>();
  for (const descriptor of files) {
    for (const service of descriptor.service ?? []) {
      const scope = descriptor.package ? `${descriptor.package}.` : '';
      services.set(
        `${scope}${service.name}`,
        new Map(
          (service.method ?? []).map((method) => [
            method.name,
            {
              input: resolve(descriptor.package ?? '', method.inputType),
              output: resolve(descriptor.package ?? '', method.outputType),
              clientStreaming: method.clientStreaming === true,
              serverStreaming: method.serverStreaming === true,
            },
          ]),
        ),
      );
    }
  }
  return { services, messages, enums };
}

/** What a comparison found: problems (ours would not talk to Flipt's clients) and notes (ours has more). */
export interface Comparison {
  readonly problems: string[];
  readonly notes: string[];
}

function describeField(field: FieldShape): string {
  return `${field.label === '' ? '' : `${field.label} `}${field.type} ${field.name} = ${field.number}`;
}

/**
 * Compares `service`/`method` of Flipt's shape with ours: the same request and response messages and streaming,
 * and every field of those messages, and of the messages and enums they use (transitively), with the same number,
 * type, label and name in ours, and every enum value with the same number. What ours lacks or has otherwise is a
 * problem; what ours has besides (a field, an enum value) is a note.
 */
export function compareMethod(
  flipt: ProtoShape,
  ours: ProtoShape,
  service: string,
  method: string,
): Comparison {
  const problems: string[] = [];
  const notes: string[] = [];
  const theirs = flipt.services.get(service)?.get(method);
  const mine = ours.services.get(service)?.get(method);
  if (theirs === undefined) return { problems: [`${service}/${method} is not in Flipt's file`], notes };
  if (mine === undefined) return { problems: [`${service}/${method} is not in our proto`], notes };
  for (const key of ['input', 'output', 'clientStreaming', 'serverStreaming'] as const) {
    if (theirs[key] !== mine[key]) {
      problems.push(
        `${service}/${method}: ${key} is ${String(mine[key])} in ours, ${String(theirs[key])} in Flipt's`,
      );
    }
  }

  const seen = new Set<string>();
  const visit = (type: string) => {
    if (seen.has(type)) return;
    seen.add(type);
    const theirEnum = flipt.enums.get(type);
    if (theirEnum !== undefined) {
      const myEnum = ours.enums.get(type);
      if (myEnum === undefined) {
        problems.push(`enum ${type} is not in our proto`);
        return;
      }
      for (const [name, number] of theirEnum) {
        if (myEnum.get(name) !== number) {
          problems.push(
            `enum ${type}: ${name} = ${number} in Flipt's, ${myEnum.has(name) ? `= ${myEnum.get(name)}` : 'absent'} in ours`,
          );
        }
      }
      for (const [name, number] of myEnum) {
        if (!theirEnum.has(name)) notes.push(`enum ${type}: ours also has ${name} = ${number}`);
      }
      return;
    }
    const theirFields = flipt.messages.get(type);
    if (theirFields === undefined) return; // a scalar, or a map<K, V> (whose parts are visited by its field)
    const myFields = ours.messages.get(type);
    if (myFields === undefined) {
      problems.push(`message ${type} is not in our proto`);
      return;
    }
    for (const [number, field] of theirFields) {
      const mine = myFields.get(number);
      if (mine === undefined) {
        problems.push(`message ${type}: ${describeField(field)} is missing in ours`);
      } else if (describeField(mine) !== describeField(field)) {
        problems.push(`message ${type}: ${describeField(field)} in Flipt's, ${describeField(mine)} in ours`);
      }
      for (const part of field.type.replace(/^map<|>$/g, '').split(', ')) visit(part);
    }
    for (const [number, field] of myFields) {
      if (!theirFields.has(number)) notes.push(`message ${type}: ours also has ${describeField(field)}`);
    }
  };
  visit(theirs.input);
  visit(theirs.output);
  return { problems, notes };
}

/**
 * Model names as a model server lists them are not ours to trust: only names a person can read
 * (printable, no control characters), each once, at most 256 characters and 1,000 names, are kept
 * for the status, the panel and the catalogue.
 */
import { printable } from "./printable"

export const MAX_MODELS = 1000
export const MAX_MODEL_NAME_CHARS = 256
/** A model list larger than this is refused (a thousand names take a fraction of it). */
export const MAX_MODEL_LIST_BYTES = 4 * 1024 * 1024

export const readableModelNames = (names: Iterable<unknown>): ReadonlyArray<string> => {
  const kept = new Set<string>()
  for (const name of names) {
    if (typeof name !== "string" || name === "" || name.length > MAX_MODEL_NAME_CHARS || printable(name, MAX_MODEL_NAME_CHARS) !== name) continue
    kept.add(name)
    if (kept.size >= MAX_MODELS) break
  }
  return [...kept]
}

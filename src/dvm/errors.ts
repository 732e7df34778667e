/** Tagged errors of the core. Each `message` is written for a person and never contains a secret. */
import { Schema } from "effect"

export class RelayError extends Schema.TaggedError<RelayError>()("RelayError", {
  message: Schema.String
}) {}

export class InferenceError extends Schema.TaggedError<InferenceError>()("InferenceError", {
  message: Schema.String
}) {}

export class WalletError extends Schema.TaggedError<WalletError>()("WalletError", {
  message: Schema.String
}) {}

export class IdentityError extends Schema.TaggedError<IdentityError>()("IdentityError", {
  message: Schema.String
}) {}

export class GoOnlineError extends Schema.TaggedError<GoOnlineError>()("GoOnlineError", {
  message: Schema.String
}) {}

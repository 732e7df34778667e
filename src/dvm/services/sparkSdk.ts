/**
 * The Spark SDK, as its own bundle (dist/sparkSdk.js, ~7 MB): loaded by SparkWallet.ts only when a
 * Spark wallet is first used, so activation stays fast.
 */
export { SparkWallet } from "@buildonspark/spark-sdk"

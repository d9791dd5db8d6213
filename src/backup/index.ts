/** Backups and restores (issue 7): the public surface for the engine, the CLI and the scheduler. */
export { BackupManager, BackupNotFound, newRestoreToken, sha256File } from "./manager.js";
export type {
  BackupManagerOptions,
  BackupRequest,
  ReleaseBackupRequest,
  ReleaseSnapshot,
  RestoreOptions,
  RestorePhase,
  SettleOptions,
} from "./manager.js";
export type { BackupRecord, BackupStatus } from "./catalog.js";
export type {
  BackupConfig,
  BackupFacts,
  BackupProvider,
  BackupType,
  CheckResult,
  ProviderContext,
  RestoreSide,
} from "./provider.js";
export { stagedRestore } from "./provider.js";
export { LocalStorage } from "./storage.js";
export type { BackupStorage, FetchedArtifact } from "./storage.js";
export { selectForPruning, DEFAULT_MAX_AGE } from "./retention.js";
export type { Retention } from "./retention.js";
export { dockerVolumeLocator, volumeProvider } from "./volume.js";
export type { VolumeLocator } from "./volume.js";
export { redactUrl } from "./exec.js";

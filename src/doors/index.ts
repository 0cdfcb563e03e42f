/**
 * Doors: the pure door state machine (lock, contact, REX, held-open and forced-open alarms,
 * modes), Wiegand credential frames, and the relay actuator that re-locks by itself.
 */
export {
  stepDoor,
  effectiveMode,
  nextDoorDeadline,
  INITIAL_DOOR_STATE,
  DOOR_MODES,
  OPERATOR_DOOR_MODES,
  DOOR_PHASES,
  DOOR_ALARMS,
  RELEASE_CAUSES,
  type DoorMode,
  type OperatorDoorMode,
  type DoorPhase,
  type ContactState,
  type ReleaseCause,
  type DoorAlarm,
  type DoorPolicy,
  type DoorState,
  type DoorInput,
  type DoorEvent,
  type LockCommand,
  type DoorStep,
} from './machine.ts';
export { wiegandBits, wiegandBitString, wiegandValue, decodeWiegand, WIEGAND_FORMATS, type WiegandFormat, type WiegandCredential, type Bit } from './wiegand.ts';
export { DoorError, isDoorError, type DoorErrorCode } from './errors.ts';
export { switchSet, switchSetFor, needsRenewal, type RelayTarget, type SwitchSetParams, type SwitchSetResult } from './relay.ts';
export { payloadValue, contactReading, isRexPress, type ContactPayloadRule, type RexPayloadRule } from './inputs.ts';
export { restoreDoor, restoredReason, historyComplete, RESTORED_PREFIX, type LoggedDoorEvent, type RestoredDoor } from './restore.ts';
export { credentialFromMetadata, credentialFrame, credentialPayload, credentialArgv, CREDENTIAL_KEY, type CardCredential, type CredentialFrame } from './credential.ts';
export { verifyDoorWebhook, signDoorWebhook, ReplayGuard, DOOR_WEBHOOK_SIGNATURE_HEADER, DOOR_WEBHOOK_WINDOW_MS, type DoorWebhookInput, type DoorWebhookVerdict } from './webhook.ts';
export {
  parseGpiodVersion,
  checkGpiodVersion,
  GPIOD_INSTALL_HINT,
  GPIOMON_FORMAT,
  gpiomonArgv,
  gpiogetArgv,
  parseGpioValue,
  parseGpiomonLine,
  gpioReading,
  edgeIsFor,
  lockLevels,
  gpiosetHoldArgv,
  gpiosetTimedArgv,
  gpiosetOnceArgv,
  gpioLockPlan,
  wiegandGpioSteps,
  splitArgv,
  WIEGAND_TIMING,
  type GpioLine,
  type GpiodVersion,
  type GpioEdge,
  type GpiomonLine,
  type GpioReading,
  type GpioLockPlan,
  type GpioStep,
  type WiegandTiming,
} from './gpio.ts';

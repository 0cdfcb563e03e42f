/**
 * Event outputs (sinks): one EventSink interface fed from the durable event log after a
 * persisted cursor per sink, and the MQTT / Home Assistant sink.
 */
export { runSinks, DEFAULT_SINK_BACKOFF, type EventSink, type SinkStatus, type SinkHealth, type SinkRunner, type SinkRunnerOptions, type SinkMetrics } from './sink.ts';
export { CursorStore, cursorStorePath, sinkLag, startCursor, advanceCursor } from './cursor.ts';
export { createMqttSink, brokerCredentials, type MqttSink, type MqttSinkOptions, type MqttOutputConfig, type MqttCameraInfo, type MqttGateInfo } from './mqtt.ts';
export { mqttTopics, topicLevel, nodeIdFromHostname, messagesFor, parseGateCommand, readGateCommand, MAX_SENDER_LENGTH, gateLockAfter, lockState, relockInMs, lastFacePayload, gateEventPayload, cameraStatusOf, publishesEvent, LOCKED, type MqttTopics, type MqttMessage, type GateLock, type LockState, type GateCommand, type GateCommandMessage, type ReadGateCommand } from './topics.ts';
export { CommandLimiter, RefusalWindows, refillTokens, type CommandRate, type Bucket, type TakeResult, type CommandRefusals, type RefusalSummary, type GateAction } from './command-limit.ts';
export { nodeIdReason, reservedTopicReason, suggestSlug, topicLevelCollisions, UNIQUE_ID_INFIXES, type LevelOwner, type LevelCollision } from '../config/topic-rules.ts';
export { discoveryPayload, discoveryComponents, discoveryTopic, haStatusTopic, announcedAfter, doorTopics, GATE_EVENT_TYPES, DOOR_ALARM_EVENT_TYPES, type DiscoveryInput, type Announced, type DoorTopics, type DoorAlarmEventType } from './ha-discovery.ts';
export { OutputsError, isOutputsError, type OutputsErrorCode, type OutputsErrorContext } from './errors.ts';

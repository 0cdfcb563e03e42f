/** ONVIF camera discovery: WS-Discovery probes and the media service's stream and snapshot URIs. */
export { discoverCameras, pickXAddr, type DiscoverOptions, type DiscoveredCamera } from './discover.ts';
export { probeDevices, parseProbeTarget, type ProbeAnswer, type ProbeOptions, type ProbeTarget } from './discovery.ts';
export { onvifDevice, type DeviceOptions, type OnvifDevice, type ProfileStreams } from './device.ts';
export { OnvifError, isOnvifError, type OnvifErrorCode } from './errors.ts';
export * as soap from './soap.ts';
export { parseXml, find, findAll, textAt, escapeXml, decodeEntities, XmlError, type XmlElement } from './xml.ts';

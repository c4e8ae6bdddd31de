// Every operation the console sends, in one place.
import { graphql, type ResultOf } from './graphql';

export const TrackFields = graphql(`
  fragment TrackFields on Track { sid type source name muted simulcast width height mimeType }
`);

export const ParticipantFields = graphql(
  `
  fragment ParticipantFields on Participant {
    id sid identity name state kind metadata attributes joinedAtMs version isPublisher
    permission { canSubscribe canPublish canPublishData canPublishSources hidden }
    tracks { ...TrackFields }
  }
`,
  [TrackFields],
);

export const ViewerQuery = graphql(`
  query Viewer { viewer { uid roles via readableRooms moderatedRooms mintsForAnyone } }
`);

export const RoomsPageQuery = graphql(`
  query RoomsPage($first: Int!, $after: String, $prefix: String) {
    roomsConnection(first: $first, after: $after, filter: { namePrefix: $prefix }) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id name creationTimeMs maxParticipants metadata participants { id } } }
    }
  }
`);

export const RoomEvents = graphql(
  `
  subscription RoomEvents($room: String) {
    roomEvents(room: $room) {
      kind room sequence at source actor
      participant { ...ParticipantFields }
      track { ...TrackFields }
      participants { ...ParticipantFields }
      reason until
    }
  }
`,
  [ParticipantFields, TrackFields],
);

export const CreateRoom = graphql(`
  mutation CreateRoom($name: String!) { createRoom(name: $name) { id name numParticipants } }
`);

export const DeleteRoom = graphql(`
  mutation DeleteRoom($name: String!) { deleteRoom(name: $name) { id name } }
`);

export const CreateToken = graphql(`
  mutation CreateToken($room: String!, $identity: String!, $name: String) {
    createToken(room: $room, identity: $identity, name: $name) { token identity room expiresAt url }
  }
`);

export const KickParticipant = graphql(`
  mutation KickParticipant($room: String!, $identity: String!) { kickParticipant(room: $room, identity: $identity) }
`);

export const MuteParticipant = graphql(
  `
  mutation MuteParticipant($room: String!, $identity: String!, $muted: Boolean!, $trackSid: String) {
    muteParticipant(room: $room, identity: $identity, muted: $muted, trackSid: $trackSid) { ...ParticipantFields }
  }
`,
  [ParticipantFields],
);

export const UpdateParticipantInfo = graphql(
  `
  mutation UpdateParticipantInfo($room: String!, $identity: String!, $name: String, $metadata: String, $attributes: JSON) {
    updateParticipantInfo(room: $room, identity: $identity, name: $name, metadata: $metadata, attributes: $attributes) {
      ...ParticipantFields
    }
  }
`,
  [ParticipantFields],
);

export const UpdateParticipantPermissions = graphql(
  `
  mutation UpdateParticipantPermissions($room: String!, $identity: String!, $permission: ParticipantPermissionInput!) {
    updateParticipantPermissions(room: $room, identity: $identity, permission: $permission) { ...ParticipantFields }
  }
`,
  [ParticipantFields],
);

export const BanFields = graphql(`
  fragment BanFields on Ban { room identity reason bannedBy bannedAt expiresAt }
`);

export const LockFields = graphql(`
  fragment LockFields on RoomLock { room lockedBy lockedAt removeLateJoiners }
`);

export const ModerationState = graphql(
  `
  query ModerationState($room: String!) { bans(room: $room) { ...BanFields } roomLock(room: $room) { ...LockFields } }
`,
  [BanFields, LockFields],
);

export const BanParticipant = graphql(
  `
  mutation BanParticipant($room: String!, $identity: String!, $reason: String, $durationSeconds: Int) {
    banParticipant(room: $room, identity: $identity, reason: $reason, durationSeconds: $durationSeconds) { ...BanFields }
  }
`,
  [BanFields],
);

export const UnbanParticipant = graphql(`
  mutation UnbanParticipant($room: String, $identity: String!) { unbanParticipant(room: $room, identity: $identity) }
`);

export const LockRoom = graphql(
  `
  mutation LockRoom($room: String!, $removeLateJoiners: Boolean!) {
    lockRoom(room: $room, removeLateJoiners: $removeLateJoiners) { ...LockFields }
  }
`,
  [LockFields],
);

export const UnlockRoom = graphql(`
  mutation UnlockRoom($room: String!) { unlockRoom(room: $room) }
`);

export const AuditLog = graphql(`
  query AuditLog($room: String, $first: Int!, $after: String) {
    auditLog(room: $room, first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id at actor actorRole face action room identity result detail } }
    }
  }
`);

export type Viewer = ResultOf<typeof ViewerQuery>['viewer'];
export type RoomSummary = ResultOf<typeof RoomsPageQuery>['roomsConnection']['edges'][number]['node'];
export type Ban = ResultOf<typeof BanFields>;
export type AuditEvent = ResultOf<typeof AuditLog>['auditLog']['edges'][number]['node'];
export type RoomEvent = ResultOf<typeof RoomEvents>['roomEvents'];

// Acts on many: one call each, one result per identity (the service's bulk mutations).
export const BulkResultFields = graphql(`
  fragment BulkResultFields on BulkResult { identity ok error { code reason message } }
`);

export const KickParticipants = graphql(
  `
  mutation KickParticipants($room: String!, $identities: [String!]!) {
    kickParticipants(room: $room, identities: $identities) { ...BulkResultFields }
  }
`,
  [BulkResultFields],
);

export const MuteParticipants = graphql(
  `
  mutation MuteParticipants($room: String!, $identities: [String!]!, $muted: Boolean!) {
    muteParticipants(room: $room, identities: $identities, muted: $muted) { ...BulkResultFields }
  }
`,
  [BulkResultFields],
);

export const BanParticipants = graphql(
  `
  mutation BanParticipants($room: String!, $identities: [String!]!, $reason: String, $durationSeconds: Int) {
    banParticipants(room: $room, identities: $identities, reason: $reason, durationSeconds: $durationSeconds) {
      ...BulkResultFields
    }
  }
`,
  [BulkResultFields],
);

export const UpdateParticipantsPermissions = graphql(
  `
  mutation UpdateParticipantsPermissions($room: String!, $identities: [String!]!, $permission: ParticipantPermissionInput!) {
    updateParticipantsPermissions(room: $room, identities: $identities, permission: $permission) { ...BulkResultFields }
  }
`,
  [BulkResultFields],
);

// Mute-all: the room's state (null when it is not muted all), the act with a result per participant, its lifting.
export const MuteAllFields = graphql(`
  fragment MuteAllFields on RoomMuteAll { room mutedBy mutedAt sources excepted strict }
`);

export const MuteAllState = graphql(
  `
  query MuteAllState($room: String!) { roomModeration(room: $room) { room muteAll { ...MuteAllFields } } }
`,
  [MuteAllFields],
);

export const MuteAll = graphql(
  `
  mutation MuteAll($room: String!, $except: [String!], $sources: [TrackSource!], $strict: Boolean!) {
    muteAll(room: $room, except: $except, sources: $sources, strict: $strict) {
      state { ...MuteAllFields }
      results { identity ok mutedTracks error { code reason message } }
    }
  }
`,
  [MuteAllFields],
);

export const UnmuteAll = graphql(`
  mutation UnmuteAll($room: String!) { unmuteAll(room: $room) }
`);

export type RoomMuteAll = ResultOf<typeof MuteAllFields>;
export type MuteAllAnswer = ResultOf<typeof MuteAll>['muteAll'];

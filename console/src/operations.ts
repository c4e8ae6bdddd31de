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

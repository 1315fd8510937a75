-- CreateTable
CREATE TABLE "Channel" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "defaultValues" JSONB NOT NULL,
    "releaseId" TEXT,
    "rowVersion" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Channel_releaseId_fkey" FOREIGN KEY ("releaseId") REFERENCES "Release" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Release" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "version" TEXT NOT NULL,
    "chart" JSONB NOT NULL,
    "images" JSONB NOT NULL,
    "values" JSONB NOT NULL,
    "notes" TEXT NOT NULL DEFAULT '',
    "createdBy" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "yankedAt" DATETIME,
    "yankedBy" TEXT,
    "yankReason" TEXT
);

-- CreateTable
CREATE TABLE "ChannelEvent" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "channelId" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "fromReleaseId" TEXT,
    "toReleaseId" TEXT,
    "actor" TEXT NOT NULL,
    "reason" TEXT,
    "requestId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ChannelEvent_channelId_fkey" FOREIGN KEY ("channelId") REFERENCES "Channel" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "ChannelEvent_fromReleaseId_fkey" FOREIGN KEY ("fromReleaseId") REFERENCES "Release" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "ChannelEvent_toReleaseId_fkey" FOREIGN KEY ("toReleaseId") REFERENCES "Release" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AuditEntry" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "targetType" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "before" JSONB,
    "after" JSONB,
    "requestId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "License" (
    "jti" TEXT NOT NULL PRIMARY KEY,
    "sub" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    "notes" TEXT NOT NULL DEFAULT '',
    "issuedBy" TEXT NOT NULL,
    "issuedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "keyId" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "Revocation" (
    "jti" TEXT NOT NULL PRIMARY KEY,
    "reason" TEXT NOT NULL,
    "revokedBy" TEXT NOT NULL,
    "revokedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateTable
CREATE TABLE "LicenseValues" (
    "sub" TEXT NOT NULL PRIMARY KEY,
    "values" JSONB NOT NULL,
    "updatedBy" TEXT NOT NULL,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Instance" (
    "sub" TEXT NOT NULL PRIMARY KEY,
    "channel" TEXT NOT NULL,
    "releaseId" TEXT,
    "releaseVersion" TEXT,
    "jti" TEXT,
    "userAgent" TEXT,
    "firstSeenAt" DATETIME NOT NULL,
    "lastSeenAt" DATETIME NOT NULL,
    "pollCount" INTEGER NOT NULL DEFAULT 0
);

-- CreateTable
CREATE TABLE "StateVersion" (
    "kind" TEXT NOT NULL PRIMARY KEY,
    "value" INTEGER NOT NULL DEFAULT 0,
    "updatedAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "Channel_name_key" ON "Channel"("name");

-- CreateIndex
CREATE UNIQUE INDEX "Release_version_key" ON "Release"("version");

-- CreateIndex
CREATE INDEX "ChannelEvent_channelId_id_idx" ON "ChannelEvent"("channelId", "id");

-- CreateIndex
CREATE INDEX "ChannelEvent_toReleaseId_idx" ON "ChannelEvent"("toReleaseId");

-- CreateIndex
CREATE INDEX "AuditEntry_targetType_target_idx" ON "AuditEntry"("targetType", "target");

-- CreateIndex
CREATE INDEX "Instance_channel_idx" ON "Instance"("channel");

-- CreateIndex
CREATE INDEX "Instance_lastSeenAt_idx" ON "Instance"("lastSeenAt");


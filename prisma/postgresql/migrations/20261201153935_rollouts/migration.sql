-- CreateTable
CREATE TABLE "Rollout" (
    "id" TEXT NOT NULL,
    "channelId" TEXT NOT NULL,
    "releaseId" TEXT NOT NULL,
    "previousReleaseId" TEXT,
    "state" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "steps" JSONB NOT NULL,
    "include" JSONB NOT NULL,
    "exclude" JSONB NOT NULL,
    "salt" TEXT NOT NULL,
    "reason" TEXT,
    "startedBy" TEXT NOT NULL,
    "startedAt" TIMESTAMP(3) NOT NULL,
    "stepStartedAt" TIMESTAMP(3) NOT NULL,
    "endedAt" TIMESTAMP(3),
    "endedBy" TEXT,
    "endReason" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Rollout_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Rollout_channelId_startedAt_idx" ON "Rollout"("channelId", "startedAt");

-- CreateIndex
CREATE INDEX "Rollout_state_idx" ON "Rollout"("state");

-- AddForeignKey
ALTER TABLE "Rollout" ADD CONSTRAINT "Rollout_channelId_fkey" FOREIGN KEY ("channelId") REFERENCES "Channel"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Rollout" ADD CONSTRAINT "Rollout_releaseId_fkey" FOREIGN KEY ("releaseId") REFERENCES "Release"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


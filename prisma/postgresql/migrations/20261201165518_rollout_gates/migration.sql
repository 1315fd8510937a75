-- AlterTable
ALTER TABLE "Rollout" ADD COLUMN     "gateResults" JSONB,
ADD COLUMN     "gates" JSONB,
ADD COLUMN     "onFailure" TEXT NOT NULL DEFAULT 'halt';


-- AlterTable
ALTER TABLE "Channel" ADD COLUMN     "policy" JSONB;


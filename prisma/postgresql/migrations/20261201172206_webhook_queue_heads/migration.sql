-- CreateIndex
CREATE INDEX "WebhookDelivery_webhookId_subject_state_eventSeq_idx" ON "WebhookDelivery"("webhookId", "subject", "state", "eventSeq");


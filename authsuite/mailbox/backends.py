from django.core.mail.backends.base import BaseEmailBackend


class MailboxBackend(BaseEmailBackend):
    """Stores each message in the demo mailbox instead of sending it."""

    def send_messages(self, email_messages):
        from authsuite.mailbox.models import Message

        for message in email_messages:
            html = next(
                (content for content, mime in getattr(message, "alternatives", [])
                 if mime == "text/html"),
                "",
            )
            Message.objects.create(
                subject=message.subject, from_email=message.from_email,
                to=", ".join(message.to), body=message.body, html=html,
            )
        return len(email_messages)

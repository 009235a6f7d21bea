import re

from django.db import models
from django.utils import timezone

LINK_RE = re.compile(r"https?://[^\s<>\"']+")


class Message(models.Model):
    subject = models.CharField(max_length=998)
    from_email = models.CharField(max_length=254)
    to = models.TextField()
    body = models.TextField()
    html = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self):
        return self.subject

    @property
    def links(self) -> list[str]:
        return list(dict.fromkeys(LINK_RE.findall(self.body)))

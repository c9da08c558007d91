"""The test's admin form: an XLSX of questions can come with it (checked row by row)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from learning.models import Quiz
from learning.quizzes import ImportedQuestion, QuizImportError, quiz_xlsx_parse

XLSX_MAX_BYTES = 2 * 1024 * 1024


class QuizForm(forms.ModelForm):
    xlsx = forms.FileField(
        label=gettext_lazy("Import questions (XLSX)"),
        required=False,
        help_text=gettext_lazy(
            "Columns: 题型 (单选/多选/判断), 题目, 选项A … 选项F, 答案 (e.g. “A”, “AC”, or "
            "对/错 for 判断). The questions are added to the test."
        ),
    )

    class Meta:
        model = Quiz
        fields = (
            "lecture",
            "pass_percent",
            "attempts_allowed",
            "opens_at",
            "closes_at",
            "shuffle",
            "is_published",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.xlsx_rows: list[ImportedQuestion] = []

    def clean_xlsx(self) -> Any:
        upload = self.cleaned_data.get("xlsx")
        if not upload:
            return upload
        if upload.size > XLSX_MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        try:
            self.xlsx_rows = quiz_xlsx_parse(upload)
        except QuizImportError as error:
            raise forms.ValidationError(str(error)) from error
        return upload

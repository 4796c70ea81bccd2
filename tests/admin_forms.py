"""Post an admin change form back as the browser would, from the page the admin rendered."""

from django.forms import BaseFormSet
from django.forms.widgets import CheckboxInput, SelectMultiple


def _field_data(form, data: dict) -> None:
    for name, field in form.fields.items():
        bound = form[name]
        key = bound.html_name
        value = bound.value()
        widget = field.widget
        if isinstance(widget, CheckboxInput):
            if value:
                data[key] = "on"
            continue
        if hasattr(widget, "decompress") and not isinstance(widget, SelectMultiple):
            parts = widget.decompress(value)
            subwidgets = getattr(widget, "widgets", [])
            for i, part in enumerate(parts):
                formatted = subwidgets[i].format_value(part) if subwidgets else part
                data[f"{key}_{i}"] = "" if formatted is None else formatted
            continue
        if isinstance(value, list | tuple):
            data[key] = [str(v) for v in value]
            continue
        formatted = widget.format_value(value)
        data[key] = "" if formatted is None else formatted


def admin_form_data(response) -> dict:
    """The data a browser would post back for the change form in `response` (unchanged)."""
    data: dict = {}
    _field_data(response.context["adminform"].form, data)
    for inline in response.context["inline_admin_formsets"]:
        formset: BaseFormSet = inline.formset
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = value
        for form in formset.initial_forms:
            _field_data(form, data)
        data[f"{formset.prefix}-TOTAL_FORMS"] = len(formset.initial_forms)
    return data

"""bess_size.site_spec: the site spec (pydantic models), loading, cross-field checks, errors; the Design."""

from .design import Design
from .errors import Problem, SiteSpecError
from .load import dump_site, load_site, parse_document, read_document, validate_site
from .models import Site
from .summary import summarize

__all__ = ["Design", "Problem", "Site", "SiteSpecError", "dump_site", "load_site", "parse_document", "read_document", "summarize", "validate_site"]

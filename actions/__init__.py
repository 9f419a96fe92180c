
# The action server imports this package first: mask personal data in every log line.
from common.privacy import install_log_masking

install_log_masking()

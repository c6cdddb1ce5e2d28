"""Field names of ``GenerateContentRequest`` as the batch API accepts them.

Source: the REST ``GenerateContentRequest`` reference (google-genai 3.6.1
``batches.py:965-1173`` shows which fields are top-level and which sit under ``generationConfig``).
The API parses bodies with the protobuf JSON mapping, which accepts both the lowerCamelCase JSON
name and the original snake_case proto name of every field; both spellings map to one canonical
(camelCase) name here.
"""

from __future__ import annotations

import re


def snake_case(camel_name: str) -> str:
    """The proto (snake_case) spelling of a lowerCamelCase field name: ``maxOutputTokens`` -> ``max_output_tokens``."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", camel_name).lower()


def _canon(*camel_names: str) -> dict[str, str]:
    """Map camelCase and snake_case spellings of each name to the camelCase one."""
    table: dict[str, str] = {}
    for name in camel_names:
        table[name] = name
        table[snake_case(name)] = name
    return table


REQUEST_FIELDS = _canon(
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "safetySettings",
    "cachedContent",
    "generationConfig",
    "labels",
    "serviceTier",
    "store",
    "continuationToken",
    "model",
)

GENERATION_CONFIG_FIELDS = _canon(
    "temperature",
    "topP",
    "topK",
    "candidateCount",
    "maxOutputTokens",
    "stopSequences",
    "responseLogprobs",
    "logprobs",
    "presencePenalty",
    "frequencyPenalty",
    "seed",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "mediaResolution",
    "speechConfig",
    "thinkingConfig",
    "imageConfig",
    "audioTranscriptionConfig",
    "enableEnhancedCivicAnswers",
    "routingConfig",
    "modelSelectionConfig",
    "audioTimestamp",
    "enableAffectiveDialog",
)

THINKING_CONFIG_FIELDS = _canon("thinkingBudget", "thinkingLevel", "includeThoughts")

CONTENT_FIELDS = _canon("role", "parts")

# Exactly one of these carries a part's data (the proto's ``data`` oneof).
PART_DATA_FIELDS = _canon(
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "toolCall",
    "toolResponse",
)
# Metadata that may sit beside the data field.
PART_META_FIELDS = _canon("thought", "thoughtSignature", "videoMetadata", "mediaResolution", "partMetadata")

BLOB_FIELDS = _canon("mimeType", "data", "displayName")
FILE_DATA_FIELDS = _canon("mimeType", "fileUri", "displayName")

TOOL_FIELDS = _canon(
    "functionDeclarations",
    "googleSearch",
    "googleSearchRetrieval",
    "codeExecution",
    "urlContext",
    "googleMaps",
    "fileSearch",
    "computerUse",
    "retrieval",
    "enterpriseWebSearch",
    "mcpServers",
)

ROLES = frozenset({"user", "model"})

# SDK 3.6.1 ``ThinkingLevel`` (types.py:386); the proto JSON mapping also accepts the UNSPECIFIED name.
THINKING_LEVELS = ("MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH")
MEDIA_RESOLUTIONS = ("LOW", "MEDIUM", "HIGH", "ULTRA_HIGH")

# Top-level fields of a batch input line.
DEVELOPER_LINE_FIELDS = frozenset({"key", "request"})
OPENAI_LINE_FIELDS = frozenset({"custom_id", "method", "url", "body"})

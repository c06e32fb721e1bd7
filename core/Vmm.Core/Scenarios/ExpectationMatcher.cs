using System.Text.Json;
using Vmm.Abstractions;

namespace Vmm.Core.Scenarios;

/// <summary>
/// Compares an <c>expect</c> with what a step observed: the kinds must agree, then only the fields the author
/// named are compared ("ok" alone matches any ok; a sigbus without lsb matches any lsb).
/// </summary>
public static class ExpectationMatcher
{
    public static bool Matches(this Expectation expected, Outcome actual) => expected.Matches(actual, checkData: true);

    /// <summary>As <see cref="Matches(Expectation, Outcome)"/>; with <paramref name="checkData"/> false an ok's data is not compared (a contents-free run keeps no bytes).</summary>
    public static bool Matches(this Expectation expected, Outcome actual, bool checkData)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        if (expected.Kind != actual.Kind) return false;
        return expected.Kind switch
        {
            OutcomeKind.Ok =>
                (expected.Data is null || !checkData || (actual.Data is not null && expected.Data.AsSpan().SequenceEqual(actual.Data)))
                && (expected.Count is null || expected.Count == actual.Count),
            OutcomeKind.SigBus =>
                (expected.SigBusCode is null || expected.SigBusCode == actual.SigBusCode)
                && (expected.Lsb is null || expected.Lsb == actual.Lsb),
            OutcomeKind.Errno => expected.Errno is null || expected.Errno == actual.Errno,
            OutcomeKind.KvmExit =>
                (expected.ExitReason is null || string.Equals(expected.ExitReason, actual.ExitReason, StringComparison.Ordinal))
                && (expected.ExitFlags is null || SameSet(expected.ExitFlags, actual.ExitFlags))
                && (expected.ExitGpa is null || expected.ExitGpa == actual.ExitGpa.Value)
                && (expected.ExitSize is null || expected.ExitSize == actual.ExitSize)
                && (expected.Errno is null || expected.Errno == actual.Errno),
            OutcomeKind.Killed => expected.Signal is null || string.Equals(expected.Signal, actual.Signal, StringComparison.Ordinal),
            OutcomeKind.State => StateMatches(expected.State, actual.State),
            _ => true,
        };
    }

    private static bool SameSet(IReadOnlyList<string> expected, IReadOnlyList<string> actual) =>
        expected.ToHashSet(StringComparer.Ordinal).SetEquals(actual);

    private static bool StateMatches(IReadOnlyDictionary<string, JsonElement>? expected, IReadOnlyDictionary<string, object?>? actual)
    {
        if (expected is null || expected.Count == 0) return true;
        if (actual is null) return false;
        foreach (var (field, expectedValue) in expected)
        {
            if (!TryGetField(actual, field, out var actualValue)) return false;
            if (!JsonMatches(expectedValue, ToElement(actualValue))) return false;
        }
        return true;
    }

    private static bool TryGetField(IReadOnlyDictionary<string, object?> state, string field, out object? value)
    {
        if (state.TryGetValue(field, out value)) return true;
        foreach (var (key, item) in state)
        {
            if (string.Equals(key, field, StringComparison.OrdinalIgnoreCase))
            {
                value = item;
                return true;
            }
        }
        return false;
    }

    private static JsonElement ToElement(object? value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
            OutcomeJson.WriteValue(writer, value);
        using var document = JsonDocument.Parse(buffer.ToArray());
        return document.RootElement.Clone();
    }

    /// <summary>Objects compare only the expected members (recursively); everything else compares whole.</summary>
    private static bool JsonMatches(JsonElement expected, JsonElement actual)
    {
        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                if (actual.ValueKind != JsonValueKind.Object) return false;
                foreach (var member in expected.EnumerateObject())
                {
                    var found = false;
                    foreach (var candidate in actual.EnumerateObject())
                    {
                        if (!string.Equals(candidate.Name, member.Name, StringComparison.OrdinalIgnoreCase)) continue;
                        if (!JsonMatches(member.Value, candidate.Value)) return false;
                        found = true;
                        break;
                    }
                    if (!found) return false;
                }
                return true;
            case JsonValueKind.Array:
                if (actual.ValueKind != JsonValueKind.Array || actual.GetArrayLength() != expected.GetArrayLength()) return false;
                return expected.EnumerateArray().Zip(actual.EnumerateArray()).All(pair => JsonMatches(pair.First, pair.Second));
            case JsonValueKind.Number:
                return actual.ValueKind == JsonValueKind.Number
                    && (expected.TryGetDecimal(out var e) && actual.TryGetDecimal(out var a) ? e == a : expected.GetDouble().Equals(actual.GetDouble()));
            case JsonValueKind.String:
                return actual.ValueKind == JsonValueKind.String && string.Equals(expected.GetString(), actual.GetString(), StringComparison.Ordinal);
            default:
                return expected.ValueKind == actual.ValueKind;
        }
    }
}

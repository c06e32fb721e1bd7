using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Vmm.Core.Scenarios;

/// <summary>
/// For messages about a name the input got wrong: names match exactly (case-sensitive) everywhere, and a
/// near miss gets a "did you mean" hint; names echoed from the input are quoted, escaped and shortened so a
/// message stays one short line whatever the file holds.
/// </summary>
public static class NameHints
{
    /// <summary>Longest part of an input name or value a message repeats.</summary>
    public const int MaxEcho = 40;

    /// <summary>Names longer than this get no edit-distance hint (the distance is quadratic in the length).</summary>
    private const int MaxCompared = 64;

    /// <summary>
    /// The known name <paramref name="given"/> most likely meant: the same ignoring case, else the nearest by
    /// edit distance (at most 1 edit for names up to 4 characters, 2 for longer ones), else the one name that starts it or
    /// that it starts; null when none is close.
    /// </summary>
    public static string? Closest(string given, IEnumerable<string> known)
    {
        ArgumentNullException.ThrowIfNull(given);
        ArgumentNullException.ThrowIfNull(known);
        var candidates = known.Where(k => !string.Equals(k, given, StringComparison.Ordinal)).ToList();
        var sameLetters = candidates.Find(k => string.Equals(k, given, StringComparison.OrdinalIgnoreCase));
        if (sameLetters is not null) return sameLetters;
        if (given.Length < 3 || given.Length > MaxCompared) return null;
        var allowed = given.Length <= 4 ? 1 : 2;
        string? best = null;
        var bestDistance = allowed + 1;
        foreach (var candidate in candidates)
        {
            if (Math.Abs(candidate.Length - given.Length) >= bestDistance || candidate.Length > MaxCompared) continue;
            var distance = Distance(given, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }
        if (best is not null) return best;
        // "lenght" for "len", "PUNCH" for "PUNCH_HOLE": one name cut short or run on, when only one fits that way.
        var prefixed = candidates
            .Where(k => k.Length >= 3 && (given.StartsWith(k, StringComparison.Ordinal) || k.StartsWith(given, StringComparison.Ordinal)))
            .GroupBy(k => Math.Abs(k.Length - given.Length))
            .OrderBy(g => g.Key)
            .FirstOrDefault()?
            .ToList();
        return prefixed is [var only] ? only : null;
    }

    /// <summary>" (did you mean "plain"?)" after a wrong name, or "" when no known name is close.</summary>
    public static string DidYouMean(string given, IEnumerable<string> known) =>
        Closest(given, known) is { } hint ? $" (did you mean {Quote(hint)}?)" : "";

    /// <summary>A name from the input in double quotes, control characters escaped, shortened to <see cref="MaxEcho"/> characters.</summary>
    public static string Quote(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return "\"" + JsonEncodedText.Encode(Shorten(text), JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString() + "\"";
    }

    /// <summary>Text from the input (a raw JSON value) cut to <see cref="MaxEcho"/> characters, ending in "..." when cut.</summary>
    public static string Shorten(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length <= MaxEcho ? text : Cut(text, MaxEcho - 3) + "...";
    }

    /// <summary>
    /// <paramref name="text"/> as a one-line message may repeat it: control characters and lone surrogates
    /// escaped, cut to <paramref name="max"/> characters with "…".
    /// </summary>
    public static string OneLine(string text, int max)
    {
        ArgumentNullException.ThrowIfNull(text);
        var builder = new StringBuilder(Math.Min(text.Length, max) + 8);
        for (var i = 0; i < text.Length; i++)
        {
            if (builder.Length >= max)
            {
                builder.Append('…');
                break;
            }
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                builder.Append(c).Append(text[++i]);
            else if (char.IsControl(c) || char.IsSurrogate(c))
                builder.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture) });
            else
                builder.Append(c);
        }
        return builder.ToString();
    }

    /// <summary>The first <paramref name="length"/> characters without splitting a surrogate pair.</summary>
    private static string Cut(string text, int length) =>
        char.IsHighSurrogate(text[length - 1]) ? text[..(length - 1)] : text[..length];

    /// <summary>Levenshtein distance with an adjacent swap counting as one edit (optimal string alignment).</summary>
    private static int Distance(string a, string b)
    {
        var previous2 = new int[b.Length + 1];
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                var value = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) value = Math.Min(value, previous2[j - 2] + 1);
                current[j] = value;
            }
            (previous2, previous, current) = (previous, current, previous2);
        }
        return previous[b.Length];
    }
}

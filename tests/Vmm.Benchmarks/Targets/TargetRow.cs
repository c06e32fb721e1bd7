using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Vmm.Benchmarks.Targets;

/// <summary>Which way a target bounds its measurement.</summary>
public enum Bound
{
    AtLeast,
    AtMost,
}

/// <summary>One target and what was measured for it; Measured is null when the row cannot be measured yet.</summary>
public sealed record TargetCheck(string What, double Target, Bound Bound, string Unit, double? Measured)
{
    public bool Met => Measured is { } measured && (Bound == Bound.AtLeast ? measured >= Target : measured <= Target);

    /// <summary>Measured over target; null for a zero target, where a ratio says nothing.</summary>
    public double? Ratio => Measured is { } measured && Target != 0 ? measured / Target : null;
}

/// <summary>
/// A row of issue 12's table: its primary check, further checks where the row has two targets
/// (guest-random: rate and ratio to the flat array; convert: rate and equality across sizes), and why.
/// </summary>
public sealed record TargetRow(string Id, TargetCheck Check, string Job, string? Note = null, IReadOnlyList<TargetCheck>? Also = null)
{
    public bool Met => Check.Met && (Also ?? []).All(check => check.Met);

    public IEnumerable<TargetCheck> Checks => Also is null ? [Check] : [Check, .. Also];

    public static TargetRow Unmeasured(string id, string what, double target, Bound bound, string unit, string why)
        => new(id, new TargetCheck(what, target, bound, unit, Measured: null), Job: "none", why);
}

/// <summary>The console table and targets.json of a target run.</summary>
public static class TargetReport
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }; // ">=" stays readable

    public static string Table(IReadOnlyList<TargetRow> rows)
    {
        var lines = new List<string[]> { new[] { "id", "what", "target", "measured", "ratio to target", "met" } };
        foreach (var row in rows)
        {
            foreach (var check in row.Checks)
            {
                lines.Add(
                [
                    check == row.Check ? row.Id : "",
                    check.What,
                    $"{BoundText(check.Bound)} {Number(check.Target)} {check.Unit}",
                    check.Measured is { } measured ? $"{Number(measured)} {check.Unit}" : "not measured",
                    check.Ratio is { } ratio ? Number(ratio) : "-",
                    check.Met ? "met" : "missed",
                ]);
            }
        }
        var widths = Enumerable.Range(0, lines[0].Length).Select(column => lines.Max(line => line[column].Length)).ToArray();
        var text = new System.Text.StringBuilder();
        foreach (var line in lines)
            text.AppendLine(string.Join("  ", line.Select((cell, column) => cell.PadRight(widths[column]))).TrimEnd());
        foreach (var row in rows.Where(row => row.Note is not null)) text.AppendLine($"{row.Id}: {row.Note}");
        return text.ToString();
    }

    /// <summary>An array of {id, target, measured, unit, met, ...}: the primary check's fields, then the further checks in "checks".</summary>
    public static string ToJson(IReadOnlyList<TargetRow> rows)
    {
        var array = rows.Select(row =>
        {
            var entry = new Dictionary<string, object?>
            {
                ["id"] = row.Id,
                ["what"] = row.Check.What,
                ["target"] = row.Check.Target,
                ["bound"] = BoundText(row.Check.Bound),
                ["measured"] = row.Check.Measured,
                ["unit"] = row.Check.Unit,
                ["ratioToTarget"] = row.Check.Ratio,
                ["met"] = row.Met,
                ["job"] = row.Job,
            };
            if (row.Also is not null) entry["checks"] = row.Checks.Select(Check).ToArray();
            if (row.Note is not null) entry["note"] = row.Note;
            return entry;
        });
        return JsonSerializer.Serialize(array, Json);
    }

    private static Dictionary<string, object?> Check(TargetCheck check) => new()
    {
        ["what"] = check.What,
        ["target"] = check.Target,
        ["bound"] = BoundText(check.Bound),
        ["measured"] = check.Measured,
        ["unit"] = check.Unit,
        ["met"] = check.Met,
    };

    private static string BoundText(Bound bound) => bound == Bound.AtLeast ? ">=" : "<=";

    private static string Number(double value) => value.ToString(Math.Abs(value) >= 1000 ? "0" : "G4", CultureInfo.InvariantCulture);
}

using System.Text;
using System.Text.Json;
using Vmm.Abstractions;

namespace Vmm.Core.Scenarios;

/// <summary>Short one-line forms of outcomes and expectations for tables ("sigbus BUS_MCEERR_AR lsb 12").</summary>
public static class OutcomeText
{
    private const int MaxDataBytes = 16;

    public static string Describe(Outcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        return outcome.Kind switch
        {
            OutcomeKind.Ok => Ok(outcome.Data, outcome.Count),
            OutcomeKind.SigBus => outcome.SigBusCode == SigBusCode.SI_KERNEL ? $"sigbus {outcome.SigBusCode}" : $"sigbus {outcome.SigBusCode} lsb {outcome.Lsb}",
            OutcomeKind.Errno => outcome.Errno?.ToString() ?? "errno",
            OutcomeKind.KvmExit => $"kvm-exit {outcome.ExitReason} [{string.Join(',', outcome.ExitFlags)}] gpa 0x{outcome.ExitGpa.Value:x} size 0x{outcome.ExitSize:x}"
                + (outcome.Errno is { } errno ? $", {errno}" : ""),
            OutcomeKind.Killed => $"killed {outcome.Signal}",
            OutcomeKind.State => "state " + string.Join(' ', (outcome.State ?? new Dictionary<string, object?>()).Select(p => $"{p.Key}={Compact(p.Value)}")),
            _ => OutcomeJson.Name(outcome.Kind),
        };
    }

    public static string Describe(Expectation expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        return expected.Kind switch
        {
            OutcomeKind.Ok => Ok(expected.Data, expected.Count),
            OutcomeKind.SigBus => $"sigbus {expected.SigBusCode}" + (expected.Lsb is { } lsb ? $" lsb {lsb}" : ""),
            OutcomeKind.Errno => expected.Errno?.ToString() ?? "errno",
            OutcomeKind.KvmExit => $"kvm-exit {expected.ExitReason}"
                + (expected.ExitFlags is { } flags ? $" [{string.Join(',', flags)}]" : "")
                + (expected.ExitGpa is { } gpa ? $" gpa 0x{gpa:x}" : "")
                + (expected.ExitSize is { } size ? $" size 0x{size:x}" : "")
                + (expected.Errno is { } errno ? $", {errno}" : ""),
            OutcomeKind.Killed => $"killed {expected.Signal}",
            OutcomeKind.State => "state " + string.Join(' ', (expected.State ?? new Dictionary<string, JsonElement>()).Select(p => $"{p.Key}={JsonSerializer.Serialize(p.Value)}")),
            _ => OutcomeJson.Name(expected.Kind),
        };
    }

    private static string Ok(byte[]? data, long? count)
    {
        var text = new StringBuilder("ok");
        if (data is not null)
        {
            text.Append(" data=").Append(OutcomeJson.Hex(data.AsSpan(0, Math.Min(data.Length, MaxDataBytes))));
            if (data.Length > MaxDataBytes) text.Append($"… ({data.Length} bytes)");
        }
        if (count is not null) text.Append(" count=").Append(count);
        return text.ToString();
    }

    private static string Compact(object? value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
            OutcomeJson.WriteValue(writer, value);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}

using System.Collections;
using System.Text;
using System.Text.Json;
using Vmm.Abstractions;

namespace Vmm.Core.Scenarios;

/// <summary>
/// Writes an <see cref="Outcome"/> as the contract's outcome JSON, the same shape as <c>expect</c>
/// (scenario-format.md, "Outcomes"): <c>"ok"</c>, <c>{"ok": {"data": "0x..", "count": n}}</c>,
/// <c>{"sigbus": {"code", "lsb"}}</c>, <c>{"errno": "EFAULT"}</c>, <c>{"kvm-exit": {...}, "errno": ...}</c>,
/// <c>"guest-mce"</c>, <c>{"killed": "SIGKILL"}</c>, <c>{"state": {...}}</c>.
/// </summary>
public static class OutcomeJson
{
    public static void Write(Utf8JsonWriter writer, Outcome outcome)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(outcome);
        switch (outcome.Kind)
        {
            case OutcomeKind.Ok when outcome.Data is null && outcome.Count is null:
                writer.WriteStringValue("ok");
                break;
            case OutcomeKind.Ok:
                writer.WriteStartObject();
                writer.WriteStartObject("ok");
                if (outcome.Data is not null) writer.WriteString("data", Hex(outcome.Data));
                if (outcome.Count is { } count) writer.WriteNumber("count", count);
                writer.WriteEndObject();
                writer.WriteEndObject();
                break;
            case OutcomeKind.SigBus:
                writer.WriteStartObject();
                writer.WriteStartObject("sigbus");
                writer.WriteString("code", outcome.SigBusCode.ToString());
                // SI_KERNEL is a plain force_sig(SIGBUS): no address, so no lsb (K29).
                if (outcome.SigBusCode != SigBusCode.SI_KERNEL) writer.WriteNumber("lsb", outcome.Lsb);
                writer.WriteEndObject();
                writer.WriteEndObject();
                break;
            case OutcomeKind.Errno:
                writer.WriteStartObject();
                writer.WriteString("errno", outcome.Errno?.ToString());
                writer.WriteEndObject();
                break;
            case OutcomeKind.KvmExit:
                writer.WriteStartObject();
                writer.WriteStartObject("kvm-exit");
                writer.WriteString("reason", outcome.ExitReason);
                writer.WriteStartArray("flags");
                foreach (var flag in outcome.ExitFlags) writer.WriteStringValue(flag);
                writer.WriteEndArray();
                writer.WriteString("gpa", $"0x{outcome.ExitGpa.Value:x}");
                writer.WriteString("size", $"0x{outcome.ExitSize:x}");
                writer.WriteEndObject();
                if (outcome.Errno is { } errno) writer.WriteString("errno", errno.ToString());
                writer.WriteEndObject();
                break;
            case OutcomeKind.Killed:
                writer.WriteStartObject();
                writer.WriteString("killed", outcome.Signal);
                writer.WriteEndObject();
                break;
            case OutcomeKind.State:
                writer.WriteStartObject();
                writer.WritePropertyName("state");
                WriteValue(writer, outcome.State);
                writer.WriteEndObject();
                break;
            default:
                writer.WriteStringValue(Name(outcome.Kind));
                break;
        }
    }

    /// <summary>The outcome as compact JSON text.</summary>
    public static string ToJson(Outcome outcome)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
            Write(writer, outcome);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The outcome as a JSON element (a detached copy).</summary>
    public static JsonElement ToElement(Outcome outcome)
    {
        using var document = JsonDocument.Parse(ToJson(outcome));
        return document.RootElement.Clone();
    }

    /// <summary>The contract's name of an outcome kind ("ok", "sigbus", "kvm-exit", "guest-mce", ...).</summary>
    public static string Name(OutcomeKind kind) => kind switch
    {
        OutcomeKind.Ok => "ok",
        OutcomeKind.SigBus => "sigbus",
        OutcomeKind.Errno => "errno",
        OutcomeKind.KvmExit => "kvm-exit",
        OutcomeKind.GuestMce => "guest-mce",
        OutcomeKind.GuestKilled => "guest-killed",
        OutcomeKind.GuestVc => "guest-vc",
        OutcomeKind.HostPanic => "host-panic",
        OutcomeKind.Shutdown => "shutdown",
        OutcomeKind.Killed => "killed",
        OutcomeKind.NotRun => "not-run",
        OutcomeKind.State => "state",
        _ => kind.ToString().ToLowerInvariant(),
    };

    /// <summary>"0x" and lowercase hex, bytes in order.</summary>
    public static string Hex(ReadOnlySpan<byte> data) => "0x" + Convert.ToHexStringLower(data);

    /// <summary>Writes a state value: bools, strings, numbers, null, dictionaries, lists, JSON elements, else its serialised form.</summary>
    internal static void WriteValue(Utf8JsonWriter writer, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNullValue();
                break;
            case bool b:
                writer.WriteBooleanValue(b);
                break;
            case string s:
                writer.WriteStringValue(s);
                break;
            case JsonElement element:
                element.WriteTo(writer);
                break;
            case byte[] bytes:
                writer.WriteStringValue(Hex(bytes));
                break;
            case int or long or short or sbyte or byte or ushort or uint:
                writer.WriteNumberValue(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case ulong u:
                writer.WriteNumberValue(u);
                break;
            case double or float or decimal:
                writer.WriteNumberValue(Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case Enum e:
                writer.WriteStringValue(e.ToString());
                break;
            case IReadOnlyDictionary<string, object?> dictionary:
                writer.WriteStartObject();
                foreach (var (key, item) in dictionary)
                {
                    writer.WritePropertyName(key);
                    WriteValue(writer, item);
                }
                writer.WriteEndObject();
                break;
            case IDictionary dictionary:
                writer.WriteStartObject();
                foreach (DictionaryEntry entry in dictionary)
                {
                    writer.WritePropertyName(Convert.ToString(entry.Key, System.Globalization.CultureInfo.InvariantCulture) ?? "");
                    WriteValue(writer, entry.Value);
                }
                writer.WriteEndObject();
                break;
            case IEnumerable items:
                writer.WriteStartArray();
                foreach (var item in items) WriteValue(writer, item);
                writer.WriteEndArray();
                break;
            default:
                JsonSerializer.SerializeToElement(value, value.GetType(), StateSerializerOptions).WriteTo(writer);
                break;
        }
    }

    private static readonly JsonSerializerOptions StateSerializerOptions = new(JsonSerializerDefaults.Web);
}

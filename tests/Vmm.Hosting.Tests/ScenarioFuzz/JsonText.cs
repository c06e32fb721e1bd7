using System.Globalization;
using System.Text;

namespace Vmm.Hosting.Tests.ScenarioFuzz;

/// <summary>
/// Writes JSON text into one reused <see cref="StringBuilder"/>, placing the commas; values are raw JSON so a
/// generator can write anything a file may hold (a lone surrogate escape, 18446744073709551616, a bare null).
/// </summary>
internal sealed class JsonText
{
    private readonly StringBuilder _text = new(2048);
    private readonly Stack<bool> _empty = new();
    private bool _afterName;

    public void Clear()
    {
        _text.Clear();
        _empty.Clear();
        _afterName = false;
    }

    public void BeginObject() => Begin('{');

    public void BeginArray() => Begin('[');

    public void EndObject() => End('}');

    public void EndArray() => End(']');

    /// <summary>A property name, quoted and escaped.</summary>
    public void Name(string name)
    {
        Separate();
        AppendQuoted(_text, name);
        _text.Append(": ");
        _afterName = true;
    }

    public void Raw(string json)
    {
        Separate();
        _text.Append(json);
    }

    public void Property(string name, string rawValue)
    {
        Name(name);
        Raw(rawValue);
    }

    public override string ToString() => _text.ToString();

    public byte[] ToUtf8() => Encoding.UTF8.GetBytes(_text.ToString());

    /// <summary>A JSON string literal for <paramref name="value"/>.</summary>
    public static string Quote(string value)
    {
        var text = new StringBuilder(value.Length + 2);
        AppendQuoted(text, value);
        return text.ToString();
    }

    private void Begin(char open)
    {
        Separate();
        _text.Append(open);
        _empty.Push(true);
    }

    private void End(char close)
    {
        _empty.Pop();
        _text.Append(close);
    }

    private void Separate()
    {
        if (_afterName)
        {
            _afterName = false;
            return;
        }
        if (_empty.Count == 0) return;
        if (!_empty.Pop()) _text.Append(", ");
        _empty.Push(false);
    }

    private static void AppendQuoted(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case < ' ': text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"); break;
                default: text.Append(c); break;
            }
        }
        text.Append('"');
    }
}

using System.Text;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Scenarios;

/// <summary>Bytes that are not UTF-8 and escapes that are half a surrogate pair: bad input at the bad byte, never InvalidOperationException.</summary>
public class InvalidTextTests
{
    private static byte[] Bytes(params object[] parts) =>
        parts.SelectMany(p => p switch
        {
            string text => Encoding.ASCII.GetBytes(text),
            byte[] raw => raw,
            _ => throw new ArgumentException("string or byte[]", nameof(parts)),
        }).ToArray();

    private static ScenarioException Error(byte[] utf8) =>
        Assert.Throws<ScenarioException>(() => ScenarioParser.Parse(utf8, ScenarioJson.FileName));

    [Fact]
    public void Parse_InvalidUtf8InAValue_FailsAtTheBadByte()
    {
        var error = Error(Bytes("{ \"name\": \"ab", new byte[] { 0xff, 0xfe }, "\", \"steps\": [] }"));

        Assert.Equal(new SourceLocation(ScenarioJson.FileName, 1, 14), error.Location);
        Assert.Equal("this string holds bytes that are not UTF-8; save the file as UTF-8", error.Message);
    }

    [Fact]
    public void Parse_InvalidUtf8InAPropertyName_FailsAtTheBadByte()
    {
        var error = Error(Bytes("{ \"name\": \"n\",\n  \"st", new byte[] { 0xc3 }, "eps\": [] }"));

        Assert.Equal(new SourceLocation(ScenarioJson.FileName, 2, 6), error.Location);
        Assert.Equal("this property name holds bytes that are not UTF-8; save the file as UTF-8", error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0xc0, 0xaf })] // overlong '/'
    [InlineData(new byte[] { 0xed, 0xa0, 0x80 })] // a surrogate encoded as UTF-8 (CESU-8)
    [InlineData(new byte[] { 0xe2, 0x82 })] // truncated sequence
    public void Parse_MalformedUtf8InASize_IsBadInputAtTheByte(byte[] bad)
    {
        var error = Error(Bytes("{ \"name\": \"n\", \"host\": { \"memory\": \"4", bad, "M\" }, \"steps\": [] }"));

        Assert.Equal(new SourceLocation(ScenarioJson.FileName, 1, 38), error.Location);
        Assert.Contains("not UTF-8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_LoneHighSurrogateEscapeInAValue_NamesTheEscape()
    {
        var error = Error(Bytes("{ \"name\": \"x\\ud800\", \"steps\": [] }"));

        Assert.Equal(new SourceLocation(ScenarioJson.FileName, 1, 13), error.Location);
        Assert.StartsWith("this string holds \"\\ud800\", half of a UTF-16 surrogate pair; write the whole character", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_LoneLowSurrogateEscapeInAPropertyName_NamesTheEscape()
    {
        var error = Error(Bytes("{ \"name\": \"x\",\n  \"ok\\udc00\": 1, \"steps\": [] }"));

        Assert.Equal(new SourceLocation(ScenarioJson.FileName, 2, 6), error.Location);
        Assert.StartsWith("this property name holds \"\\udc00\", half of a UTF-16 surrogate pair", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_HighSurrogateFollowedByAnotherHigh_FailsAtTheFirst()
    {
        var error = Error(Bytes("{ \"name\": \"\\ud83d\\ud83d\\ude00\", \"steps\": [] }"));

        Assert.Equal(new SourceLocation(ScenarioJson.FileName, 1, 12), error.Location);
        Assert.Contains("\"\\ud83d\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SurrogatePairEscape_IsText()
    {
        var scenario = ScenarioParser.Parse(Bytes("{ \"name\": \"\\\\ \\ud83d\\ude00\", \"steps\": [] }"), ScenarioJson.FileName);

        Assert.Equal("\\ \U0001F600", scenario.Name);
    }

    [Fact]
    public void Parse_LoneSurrogateInAStepValue_IsBadInputNotAnInternalError()
    {
        var error = Error(Bytes(ScenarioJson.WithSteps("""[ { "op": "host.read", "vm": "vm1\ud800", "gpa": 0, "len": 4 } ]""")));

        Assert.Equal(4, error.Location.Line);
        Assert.Contains("surrogate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_InvalidUtf8InAComment_IsSkippedWithTheComment()
    {
        var scenario = ScenarioParser.Parse(Bytes("{ /* ", new byte[] { 0xff }, " */ \"name\": \"n\", \"steps\": [] }"), ScenarioJson.FileName);

        Assert.Equal("n", scenario.Name);
    }

    [Fact]
    public void Parse_LongBadNames_AreShortenedInTheMessage()
    {
        var name = new string('x', 100_000);

        var error = ScenarioJson.StepError($$"""{ "op": "{{name}}" }""");

        Assert.True(error.Message.Length < 1500, $"message of {error.Message.Length} characters");
        Assert.StartsWith("unknown op \"xxxxxxxxxx", error.Message, StringComparison.Ordinal);
        Assert.Contains("...\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ControlCharactersInABadName_StayOnOneLine()
    {
        var error = ScenarioJson.StepError("""{ "op": "host.read\nhost.write" }""");

        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith("unknown op \"host.read\\nhost.write\"", error.Message, StringComparison.Ordinal);
    }
}

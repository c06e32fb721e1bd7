using System.Text;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Scenarios;

/// <summary>Locations on long one-line (minified) files: counted on from the previous token, and still exact.</summary>
public class SourceLocationTests
{
    private static string OneLine(int steps, string lastStep)
    {
        var text = new StringBuilder("{\"name\":\"é minified\",\"vms\":[{\"name\":\"vm1\",\"memory\":\"8M\"}],\"steps\":[");
        for (var i = 0; i < steps; i++) text.Append("{\"op\":\"host.read\",\"vm\":\"vm1\",\"gpa\":\"0x1000\",\"len\":4},");
        return text.Append(lastStep).Append("]}").ToString();
    }

    [Fact]
    public void Parse_ErrorAfterManyStepsOnOneLine_NamesItsColumnInCharacters()
    {
        var json = OneLine(5000, "{\"op\":\"host.read\",\"vm\":\"vm1\",\"gpa\":\"0x1000\",\"len\":4,\"bit\":3}");

        var error = Assert.Throws<ScenarioException>(() => ScenarioParser.Parse(json, ScenarioJson.FileName));

        // "é" is two bytes but one column.
        var column = json.IndexOf("\"bit\"", StringComparison.Ordinal) + 1;
        Assert.Equal(new SourceLocation(ScenarioJson.FileName, 1, column), error.Location);
    }

    [Fact]
    public void Parse_ErrorOnALaterLineAfterALongLine_StartsCountingAgain()
    {
        var json = OneLine(100, "\n  {\"op\":\"host.read\",\"vm\":\"vm1\",\"gpa\":\"0x1000\",\"len\":4,\"bit\":3}");

        var error = Assert.Throws<ScenarioException>(() => ScenarioParser.Parse(json, ScenarioJson.FileName));

        var secondLine = json[(json.IndexOf('\n') + 1)..];
        Assert.Equal(new SourceLocation(ScenarioJson.FileName, 2, secondLine.IndexOf("\"bit\"", StringComparison.Ordinal) + 1), error.Location);
    }
}

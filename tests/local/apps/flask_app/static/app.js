console.log("flask static");
